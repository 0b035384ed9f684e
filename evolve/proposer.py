"""The controller's view of mutation: given a parent and inspirations, propose
an edit. The LLM ensemble and the offline mutator both sit behind this, so the
controller never knows which one it is talking to.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from evolve.mutation.offline import OfflineMutator
from evolve.records import Program

__all__ = ["OfflineProposer", "Proposal", "Proposer"]


@dataclass(frozen=True)
class Proposal:
    """An edit to apply to the parent, and who proposed it."""

    text: str
    model: str
    edit_kind: str = "diff"
    llm_call_id: str | None = None


class Proposer(Protocol):
    name: str

    async def propose(
        self, parent: Program, inspirations: Sequence[Program], seed: int
    ) -> Proposal: ...


class OfflineProposer:
    """The offline mutator (program transformation, no network) as a Proposer."""

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
