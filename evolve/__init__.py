"""evolve: AlphaEvolve-style evolutionary program search."""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"
__all__ = ["Run", "__version__"]


def __getattr__(name: str) -> Any:
    # evolve.Run pulls in pandas and networkx: load it only when a notebook asks.
    if name == "Run":
        from evolve.analysis.run import Run

        return Run
    raise AttributeError(f"module 'evolve' has no attribute {name!r}")
