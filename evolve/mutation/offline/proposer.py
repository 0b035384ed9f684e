"""The offline mutator behind the ``Proposer`` protocol."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from evolve.mutation.offline.mutator import OfflineMutator
from evolve.mutation.protocol import Proposal
from evolve.records import Program

__all__ = ["OfflineProposer"]


class OfflineProposer:
    """The offline mutator (program transformation, no network) as a Proposer.

    It has no calls to account for and no state beyond the per-proposal seed,
    so the bookkeeping hooks are empty.
    """

    name = "offline"

    def __init__(self) -> None:
        self._mutator = OfflineMutator()

    async def propose(
        self, parent: Program, inspirations: Sequence[Program], seed: int, *, at: int = 0
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
