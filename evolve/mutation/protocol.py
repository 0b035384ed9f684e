"""The controller's view of mutation: given a parent and inspirations, propose
an edit. The LLM ensemble and the offline mutator both sit behind this, so the
controller never knows which one it is talking to. The protocol owns its types:
the ``Proposal`` it returns and the ``MutationError`` it raises.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from evolve.records import Program

__all__ = ["BudgetExhausted", "MutationError", "Proposal", "Proposer"]


class MutationError(ValueError):
    """This proposal gave no edit (no valid transformation, no LLM reply after
    retries); the controller records it as a rejected proposal and goes on."""


class BudgetExhausted(Exception):
    """The spend limit is reached: the controller stops cleanly, finishing the
    evaluations in flight (not an error of this proposal, so deliberately not
    a MutationError)."""


@dataclass(frozen=True)
class Proposal:
    """An edit to apply to the parent, and who proposed it.

    ``edit_kind`` says how ``text`` applies: "diff" (SEARCH/REPLACE blocks),
    "rewrite" or "crossover" (a new EVOLVE-BLOCK body); a crossover names its
    second parent in ``extra_parent_ids``.
    """

    text: str
    model: str
    edit_kind: str = "diff"
    llm_call_id: str | None = None
    extra_parent_ids: tuple[str, ...] = ()
    prompt_variant: str | None = None  # the [meta] system-prompt variant it was asked with


class Proposer(Protocol):
    """What the controller needs from a mutation source."""

    name: str

    async def propose(
        self, parent: Program, inspirations: Sequence[Program], seed: int, *, at: int = 0
    ) -> Proposal:
        """An edit of ``parent``; ``MutationError`` when this proposal gives none,
        ``BudgetExhausted`` when no further proposal may be made. ``at`` is the
        number of programs the database held when the proposal was drawn: what
        the prompts evolved so far are read as of (``[meta]``), so the same
        draw gets the same prompt whatever finished meanwhile."""
        ...

    def feedback(
        self, proposal: Proposal, parent_fitness: float | None, child_fitness: float | None
    ) -> None:
        """How the child of ``proposal`` scored (adaptive model choice)."""

    def drain_calls(self) -> list[Any]:
        """LLM call records made since the last drain (for the run store)."""

    def snapshot(self) -> dict[str, Any]:
        """JSON-ready state for the checkpoint (spend, bandit)."""

    def restore(self, state: dict[str, Any]) -> None: ...

    async def aclose(self) -> None: ...
