"""`evolve mutator serve`: the offline mutator as an OpenAI-compatible API."""

from __future__ import annotations

import argparse

from evolve.testing.serve import add_arguments, run

__all__ = ["register"]


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``mutator serve`` to the command parser."""
    mutator = sub.add_parser("mutator", help="the offline mutator as a service")
    mutator_sub = mutator.add_subparsers(dest="mutator_command", required=True)
    serve = mutator_sub.add_parser(
        "serve", help="serve the offline mutator as an OpenAI-compatible chat-completions API"
    )
    add_arguments(serve)
    serve.set_defaults(func=run)
