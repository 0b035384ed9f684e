"""``shinka.core`` as ShinkaEvolve's scorers import it: ``run_shinka_eval``.

The rest of ShinkaEvolve's ``shinka.core`` (``ShinkaEvolveRunner``,
``EvolutionConfig``, the novelty judge, the prompt evolver) drives an evolution
run with its own LLM stack; evolve runs the evolution, so those names fail
with a message saying so.
"""

from __future__ import annotations

from typing import Any

from .wrap_eval import load_program, run_shinka_eval, save_json_results

__all__ = ["load_program", "run_shinka_eval", "save_json_results"]


def __getattr__(name: str) -> Any:
    raise ImportError(
        f"shinka.core.{name} is not available inside evolve's sandbox: evolve runs the "
        "evolution itself and provides only shinka.core.run_shinka_eval to scorers"
    )
