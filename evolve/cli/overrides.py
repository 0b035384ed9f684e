"""The flags `evolve run` and `evolve eval` share over how a folder is read:
``--config`` (an OpenEvolve folder's config file) and the limits ``--timeout-s``,
``--memory-mb``, ``--cpus``, ``--gpus``, ``--max-processes`` over the problem's
own (``evolve.config.overrides``)."""

from __future__ import annotations

import argparse

from evolve.config.overrides import LIMIT_FLAGS

__all__ = ["add_override_flags", "overrides_of"]


def add_override_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config",
        default=None,
        metavar="FILE",
        help="an OpenEvolve folder's config file other than config.yaml (one of its files)",
    )
    group = parser.add_argument_group(
        "limits over the problem's own (any folder, an OpenEvolve one included)"
    )
    for key, (flag, kind, what) in LIMIT_FLAGS.items():
        metavar = key.rsplit("_", 1)[-1].upper()
        group.add_argument(
            flag, dest=f"override_{key}", type=kind, default=None, metavar=metavar, help=what
        )


def overrides_of(args: argparse.Namespace) -> dict[str, float]:
    """The limits given on the command line, by ``LIMIT_FLAGS`` key."""
    found = {key: getattr(args, f"override_{key}", None) for key in LIMIT_FLAGS}
    return {key: value for key, value in found.items() if value is not None}
