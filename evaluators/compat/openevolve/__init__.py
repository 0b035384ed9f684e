"""evolve's stand-in for the ``openevolve`` package inside its sandboxes.

Only what OpenEvolve problems' evaluators import is here
(:mod:`openevolve.evaluation_result`); the framework itself (its controller,
LLM clients, database) is evolve's to run. Importing anything else from this
package fails with a message saying so, rather than a bare ImportError.
"""

from __future__ import annotations

from typing import Any

__all__ = ["evaluation_result"]


def __getattr__(name: str) -> Any:
    raise ImportError(
        f"openevolve.{name} is not available inside evolve's sandbox: evolve provides only "
        "openevolve.evaluation_result to scorers (install the real openevolve package in "
        "the sandbox's Python if a scorer needs more)"
    )
