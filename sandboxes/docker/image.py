"""The sandbox image: tagged by a hash of its inputs, built once, offline when needed.

Two layers, each tagged with the hash of what goes into it, so a change to
the harness (``evaluators/``) rebuilds only the small overlay in seconds:

* base ``evolve-sandbox-base:<hash>``: Python 3.11 + the pinned packages of
  ``requirements.txt``. From ``Dockerfile.base`` when a registry answers (or
  its parent image is already here), else offline from Debian's packages
  (:mod:`sandboxes.docker.build_offline`).
* sandbox ``evolve-sandbox:<hash>``: the base plus the evaluators harness and
  the per-slot users (``Dockerfile``, classic builder: BuildKit is often not
  installed). Also tagged ``evolve-sandbox:latest``, the default a
  problem.toml names.

``ensure_image()`` is what sandboxes call: it returns the current tag, building
whatever is missing. ``evolve sandbox build`` calls it from the command line.
"""

from __future__ import annotations

import hashlib
import logging
import shutil
import socket
import tempfile
import time
from pathlib import Path
from typing import Any, Literal

from sandboxes.docker.build_offline import OfflineBuildError, build_offline_base
from sandboxes.job import SandboxSetupError

__all__ = [
    "DEFAULT_IMAGE",
    "BuildMode",
    "ImageError",
    "base_tag",
    "build_image",
    "build_over",
    "docker_client",
    "ensure_image",
    "image_tag",
    "resolve_image",
]

log = logging.getLogger(__name__)

HERE = Path(__file__).resolve().parent
EVALUATORS = HERE.parent.parent / "evaluators"
REPOSITORY = "evolve-sandbox"
BASE_REPOSITORY = "evolve-sandbox-base"
DEFAULT_IMAGE = f"{REPOSITORY}:latest"
REGISTRY_PARENT = ("python", "3.11-slim-bookworm")
_REGISTRY_HOST = ("registry-1.docker.io", 443)
_BASE_INPUTS = ("requirements.txt", "Dockerfile.base", "build_offline.py")

BuildMode = Literal["auto", "registry", "offline"]


class ImageError(SandboxSetupError):
    """The image cannot be found or built; the message names the fix."""


def docker_client() -> Any:
    """A client for the local daemon, or an ImageError saying how to start one."""
    import docker

    try:
        client = docker.from_env(timeout=120)
        client.ping()
    except Exception as exc:
        raise ImageError(
            f"no Docker daemon answers ({exc}). Install and start it: `make test` does "
            "(apt-get install docker.io; dockerd &), or use --sandbox process"
        ) from exc
    return client


def _digest(files: dict[str, Path], seed: str = "") -> str:
    """A short hash of named files (names and contents), chained onto ``seed``."""
    h = hashlib.sha256(seed.encode())
    for name in sorted(files):
        h.update(name.encode() + b"\0" + files[name].read_bytes() + b"\0")
    return h.hexdigest()[:16]


def _evaluator_files() -> dict[str, Path]:
    return {
        f"evaluators/{p.relative_to(EVALUATORS)}": p
        for p in EVALUATORS.rglob("*.py")
        if "__pycache__" not in p.parts
    }


def base_tag() -> str:
    """``evolve-sandbox-base:<hash of requirements and base recipes>``."""
    return f"{BASE_REPOSITORY}:{_digest({n: HERE / n for n in _BASE_INPUTS})}"


def image_tag() -> str:
    """``evolve-sandbox:<hash>`` of the base tag, the overlay Dockerfile and the harness."""
    files = {"Dockerfile": HERE / "Dockerfile", **_evaluator_files()}
    return f"{REPOSITORY}:{_digest(files, seed=base_tag())}"


def _exists(client: Any, tag: str) -> bool:
    import docker

    try:
        client.images.get(tag)
    except docker.errors.ImageNotFound:
        return False
    return True


def _registry_answers(timeout_s: float = 3.0) -> bool:
    try:
        with socket.create_connection(_REGISTRY_HOST, timeout=timeout_s):
            return True
    except OSError:
        return False


def _build_base_from_registry(client: Any, tag: str) -> None:
    import docker

    parent = ":".join(REGISTRY_PARENT)
    if not _exists(client, parent):
        client.images.pull(*REGISTRY_PARENT)
    repository, _, version = tag.partition(":")
    try:
        client.images.build(
            path=str(HERE), dockerfile="Dockerfile.base", tag=tag, rm=True, forcerm=True
        )
    except docker.errors.BuildError as exc:
        raise ImageError(f"building {tag} from Dockerfile.base failed: {exc}") from exc
    log.info("built %s:%s from %s", repository, version, parent)


def _build_base(client: Any, mode: BuildMode) -> str:
    tag = base_tag()
    if _exists(client, tag):
        return tag
    parent_here = _exists(client, ":".join(REGISTRY_PARENT))
    use_registry = mode == "registry" or (mode == "auto" and (parent_here or _registry_answers()))
    if use_registry:
        try:
            _build_base_from_registry(client, tag)
            return tag
        except Exception as exc:
            if mode == "registry":
                raise ImageError(f"registry build of {tag} failed: {exc}") from exc
            log.warning("registry build failed (%s); building offline instead", exc)
    repository, _, version = tag.partition(":")
    try:
        build_offline_base(client, repository, version, HERE / "requirements.txt")
    except OfflineBuildError as exc:
        raise ImageError(f"offline build of {tag} failed: {exc}") from exc
    return tag


def _build_overlay(client: Any, base: str, tag: str) -> None:

    with tempfile.TemporaryDirectory(prefix="evolve-image-") as tmp:
        context = Path(tmp)
        shutil.copy2(HERE / "Dockerfile", context / "Dockerfile")
        shutil.copytree(
            EVALUATORS, context / "evaluators", ignore=shutil.ignore_patterns("__pycache__")
        )
        build_over(client, context, base, tag)


def build_over(client: Any, context: Path, base: str, tag: str) -> None:
    """Build ``context`` (its Dockerfile takes ``ARG BASE``) over ``base`` as
    ``tag`` with the classic builder; a failure names the build's last lines."""
    import docker

    try:
        client.images.build(
            path=str(context), tag=tag, buildargs={"BASE": base}, rm=True, forcerm=True
        )
    except docker.errors.BuildError as exc:
        lines = [str(c.get("stream", c.get("error", ""))).rstrip() for c in exc.build_log]
        raise ImageError(f"building {tag} failed: {exc}\n" + "\n".join(lines[-15:])) from exc


def build_image(mode: BuildMode = "auto", force: bool = False, client: Any = None) -> str:
    """Build (if missing, or always with ``force``) and return the sandbox image tag."""
    client = client or docker_client()
    tag = image_tag()
    if not force and _exists(client, tag):
        client.images.get(tag).tag(REPOSITORY, "latest")
        return tag
    started = time.monotonic()
    if force:
        for old in (tag, base_tag()):
            if _exists(client, old):
                client.images.remove(old, force=True)
    base = _build_base(client, mode)
    _build_overlay(client, base, tag)
    client.images.get(tag).tag(REPOSITORY, "latest")
    log.info("sandbox image %s ready in %.0f s", tag, time.monotonic() - started)
    return tag


def ensure_image(client: Any = None) -> str:
    """The current sandbox image tag, built first if this machine lacks it."""
    return build_image(mode="auto", force=False, client=client)


def resolve_image(name: str, client: Any = None) -> str:
    """The image a problem names: the default means "ours, current"; any other
    name must already be on this machine (no pulls at scoring time)."""
    if name in (DEFAULT_IMAGE, REPOSITORY):
        return ensure_image(client)
    client = client or docker_client()
    if not _exists(client, name):
        raise ImageError(
            f"sandbox image '{name}' (problem.toml [sandbox] image) is not on this machine: "
            f"build or load it first (`docker build -t {name} ...` or `docker load`), "
            f"or remove the key to use {DEFAULT_IMAGE}"
        )
    return name
