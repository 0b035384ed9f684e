"""The controller's view of mutation: given a parent and inspirations, propose
an edit. The LLM ensemble and the offline mutator both sit behind this, so the
controller never knows which one it is talking to.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from evolve.mutation.offline import OfflineMutator
from evolve.records import Program

__all__ = ["OfflineProposer", "Proposal", "Proposer"]


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


class Proposer(Protocol):
    """What the controller needs from a mutation source."""

    name: str

    async def propose(
        self, parent: Program, inspirations: Sequence[Program], seed: int
    ) -> Proposal: ...

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


class OfflineProposer:
    """The offline mutator (program transformation, no network) as a Proposer.

    It has no calls to account for and no state beyond the per-proposal seed,
    so the bookkeeping hooks are empty.
    """

    name = "offline"

    def __init__(self) -> None:
        self._mutator = OfflineMutator()

    async def propose(
        self, parent: Program, inspirations: Sequence[Program], seed: int
    ) -> Proposal:
        # Cheap and CPU-bound (milliseconds): running it inline keeps the
        # controller single-threaded with respect to the database.
        await asyncio.sleep(0)
        text = self._mutator.propose(parent.code, [p.code for p in inspirations], seed=seed)
        return Proposal(text=text, model=self.name)

    def feedback(
        self, proposal: Proposal, parent_fitness: float | None, child_fitness: float | None
    ) -> None:
        return None

    def drain_calls(self) -> list[Any]:
        return []

    def snapshot(self) -> dict[str, Any]:
        return {}

    def restore(self, state: dict[str, Any]) -> None:
        return None

    async def aclose(self) -> None:
        return None
