"""Core records of a run: small frozen dataclasses every layer agrees on.

A ``Program`` is born unscored (``status`` is None) when a proposal gives a
child, and gets its status, score and metrics once, in one place
(``evolve.engine.scoring``); nobody changes a record field by field after that.
Imports only ``evaluators.contract`` (for ``Status`` and ``PROBE_KINDS``).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from enum import StrEnum

from evaluators.contract import PROBE_KINDS, Status

__all__ = ["PROBE_KINDS", "EventKind", "Program", "Status", "code_hash"]


class EventKind(StrEnum):
    """The ``kind`` of a row of the run store's events table. Written to disk, so
    these strings never change (renaming a class must not change stored data)."""

    # What the population database did besides storing a program.
    MIGRATION = "migration"
    EVICTION = "eviction"
    DUPLICATE_CODE = "duplicatecode"
    ISLAND_RESET = "islandreset"
    # What the controller recorded.
    EDIT_REJECTED = "edit_rejected"  # a proposal gave no child, with why
    DUPLICATE_IN_FLIGHT = "duplicate_in_flight"  # a child's code was being evaluated
    STALE_DROPPED = "stale_dropped"  # a child over max_staleness, not evaluated
    STOP = "stop"  # a run (or a resumed stretch of it) stopped, with its counters
    HOLDOUT = "holdout"  # a new best's held-out score (evaluate_holdout), kept from prompts
    # What a resume found in the run's problem copy (evolve.store.pins).
    PROBLEM_CHANGED = "problem_changed"  # files changed, accepted with a reason
    PROBLEM_PINNED = "problem_pinned"  # a run made before pins, pinned at a resume
    # What the population database did about a stagnant island (evolve.database.stagnation).
    ISLAND_STAGNATED = "islandstagnated"
    ISLAND_RESEEDED = "islandreseeded"
    ISLAND_SPAWNED = "islandspawned"


def code_hash(code: str) -> str:
    """Content hash of a program's exact text (the key of the code table)."""
    return hashlib.sha256(code.encode("utf-8")).hexdigest()[:32]


@dataclass(frozen=True)
class Program:
    """One candidate program and, once scored, what its evaluation said about it.

    ``status`` is None until the program is scored. ``score`` is the raw value
    of the problem's objective metric; ``fitness`` is the same value oriented so
    that higher is always better (``-score`` for a minimised objective) and is
    ``None`` for any status other than OK. ``staleness`` is how many programs
    the database gained between the child's sampling (its parent and
    inspirations) and the start of its evaluation: what the pipeline's
    look-ahead cost it (None for the seed and for programs never evaluated).
    """

    id: str
    code: str
    parent_ids: tuple[str, ...] = ()
    island: int = 0
    generation: int = 0
    iteration: int = 0
    created_at: float = 0.0
    status: Status | None = None
    metrics: dict[str, float] = field(default_factory=dict)
    score: float | None = None
    fitness: float | None = None
    artifacts: dict[str, str] = field(default_factory=dict)
    reason: str = ""
    edit_kind: str = "seed"
    model: str = ""
    llm_call_id: str | None = None
    wall_time_s: float = 0.0
    duplicate_of: str | None = None
    code_hash: str = ""
    staleness: int | None = None
    # set by the run store when it records the program (evolve.store.chain);
    # not part of what a program is, so equality leaves it out
    record_hash: str | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        if not self.code_hash:
            object.__setattr__(self, "code_hash", code_hash(self.code))

    @property
    def scored(self) -> bool:
        return self.status is not None
