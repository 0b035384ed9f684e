"""evolve's stand-in for the ``shinka`` package (ShinkaEvolve) inside its sandboxes.

ShinkaEvolve's problem folders run ``evaluate.py`` as a script, and their
scorers import only :func:`shinka.core.run_shinka_eval` from the framework; that
is what is here (:mod:`shinka.core.wrap_eval`). The framework itself (its
runner, LLM clients, database, novelty judge) is evolve's to run, so importing
anything else fails with a message saying so rather than a bare ImportError.
"""

from __future__ import annotations

from typing import Any

__all__ = ["core"]


def __getattr__(name: str) -> Any:
    if name.startswith("__"):  # __version__, __wrapped__...: what tools probe for
        raise AttributeError(name)
    raise ImportError(
        f"shinka.{name} is not available inside evolve's sandbox: evolve provides only "
        "shinka.core.run_shinka_eval (and shinka.core.wrap_eval) to scorers (install the "
        "real shinka-evolve package in the sandbox's Python if a scorer needs more)"
    )
