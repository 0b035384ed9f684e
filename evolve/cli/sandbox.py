"""`evolve sandbox ...`: build the Docker sandbox image, show what this host enforces."""

from __future__ import annotations

import argparse
import time

from evolve.errors import SandboxUnavailable
from sandboxes.docker.image import ImageError, build_image, image_tag

__all__ = ["register"]


def _build(args: argparse.Namespace) -> int:
    started = time.monotonic()
    try:
        tag = build_image(mode=args.mode, force=args.force)
    except ImageError as exc:
        raise SandboxUnavailable(str(exc)) from exc
    elapsed = time.monotonic() - started
    print(f"sandbox image: {tag} (also tagged evolve-sandbox:latest) [{elapsed:.0f} s]")
    return 0


def _tag(args: argparse.Namespace) -> int:
    print(image_tag())
    return 0


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``sandbox build`` and ``sandbox tag`` to the command parser."""
    parser = commands.add_parser("sandbox", help="build the Docker sandbox image")
    sub = parser.add_subparsers(dest="sandbox_command", required=True)
    build = sub.add_parser(
        "build",
        help="build the Docker sandbox image if missing (from the registry when one answers, "
        "else offline from Debian's packages)",
    )
    build.add_argument(
        "--mode",
        choices=["auto", "registry", "offline"],
        default="auto",
        help="auto (default): registry if reachable, else offline (debootstrap + docker import)",
    )
    build.add_argument("--force", action="store_true", help="rebuild even if the tag exists")
    build.set_defaults(func=_build)
    tag = sub.add_parser("tag", help="print the image tag the current sources hash to")
    tag.set_defaults(func=_tag)
