"""The `evolve` command: the parser, and one place that turns errors into exit codes.

An ``EvolveError`` (``evolve.errors``) is the user's to fix: it is printed as
one line, exit code 2. Anything else is a bug in evolve: its traceback is
printed with a request to report it, exit code 70, so an internal failure
never passes for a mistake in the user's input.
"""

from __future__ import annotations

import argparse
import logging
import sys
import traceback

from evolve import __version__
from evolve.cli import bench, evaluate, inspect, mutator, review, run, sandbox, verify
from evolve.cli.terminal import PrintableFormatter, printable
from evolve.errors import EvolveError

__all__ = ["BUG_EXIT_CODE", "USER_ERROR_EXIT_CODE", "build_parser", "main"]

USER_ERROR_EXIT_CODE = 2
BUG_EXIT_CODE = 70  # EX_SOFTWARE


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="evolve", description="Evolutionary program search with sandboxed scoring."
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    parser.add_argument("--version", action="version", version=f"evolve {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    run.register(sub)
    inspect.register(sub)
    evaluate.register(sub)
    mutator.register(sub)
    sandbox.register(sub)
    verify.register(sub)
    review.register(sub)
    bench.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    handler = logging.StreamHandler()
    handler.setFormatter(PrintableFormatter("%(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO, handlers=[handler])
    for noisy in ("httpx", "httpx2", "httpcore", "openai"):  # one line per HTTP request
        logging.getLogger(noisy).setLevel(logging.DEBUG if args.verbose else logging.WARNING)
    try:
        code: int = args.func(args)
    except EvolveError as exc:
        # A message may quote a scorer (SeedFailed carries the seed's reason and
        # traceback) or a run directory: control characters are shown, not obeyed.
        print(f"evolve: error: {printable(str(exc))}", file=sys.stderr)
        return USER_ERROR_EXIT_CODE
    except KeyboardInterrupt:
        return 130
    except Exception:
        traceback.print_exc()
        print(
            "evolve: internal error (a bug in evolve, not in your problem or settings); "
            f"please report it on the project's issue tracker with the traceback above and "
            f"the `evolve {args.command}` command line that you ran",
            file=sys.stderr,
        )
        return BUG_EXIT_CODE
    return code
