"""The state a run carries between proposals: its limits, its counters, the
per-iteration seed, and the small records of a candidate on its way through
the controller (pending evaluation, rejected, or a duplicate)."""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from evolve.database import Sample
from evolve.errors import UsageError
from evolve.mutation import Proposal
from evolve.novelty import Verdict
from evolve.records import Program

__all__ = [
    "Draw",
    "Duplicate",
    "Outcome",
    "Pending",
    "Progress",
    "Rejection",
    "RunLimits",
    "iteration_seed",
]


@dataclass(frozen=True)
class RunLimits:
    """When to stop (whichever comes first), and how wide the pipeline is."""

    evaluations: int  # children to evaluate in this invocation (seed not counted)
    concurrency: int | None = 2  # K, evaluations in flight; None: the executor's capacity
    proposals: int | None = None  # M, proposals in flight at most; None: the proposer's own
    queue_size: int | None = None  # Q, ready children waiting; None: K
    max_staleness: int | None = None  # cap on Program.staleness; None: 2 x (K + M)
    schedule: Literal["pipeline", "coupled"] = "pipeline"
    max_time_s: float | None = None
    target: float | None = None  # objective value (raw, direction-aware)
    commit_interval_s: float = 1.0
    commit_every: int = 256  # records; the 1 s interval bounds what a kill -9 loses
    ordered: bool = False  # deterministic schedule (see evolve.engine.scheduling)

    def __post_init__(self) -> None:
        if self.evaluations < 0:
            raise UsageError(f"--iterations must be >= 0, got {self.evaluations}")
        for flag, value in (
            ("--concurrency", self.concurrency),
            ("--proposals", self.proposals),
            ("--queue", self.queue_size),
        ):
            if value is not None and value < 1:
                raise UsageError(f"{flag} must be >= 1, got {value}")
        if self.max_staleness is not None and self.max_staleness < 0:
            raise UsageError(f"--max-staleness must be >= 0, got {self.max_staleness}")
        if self.schedule not in ("pipeline", "coupled"):
            raise UsageError(f"--schedule must be pipeline or coupled, got {self.schedule!r}")


@dataclass
class Progress:
    """Counters shown live and saved in the checkpoint."""

    next_iteration: int = 0
    evaluations: int = 0  # evaluated programs, all invocations, seed included
    evaluations_this_run: int = 0
    statuses: Counter[str] = field(default_factory=Counter)
    duplicates: int = 0
    rejected_edits: int = 0
    not_novel: int = 0  # of rejected_edits: too similar to a program ([novelty])
    stale_dropped: int = 0  # children over max_staleness, not evaluated
    # scorer runs beyond one per program ([evaluation] repeats, confirm_best)
    extra_scorer_runs: int = 0
    best_score: float | None = None
    llm_calls: int = 0
    llm_tokens: int = 0
    cost_usd: float = 0.0
    started_at: float = field(default_factory=time.monotonic)
    stop_reason: str = ""
    # Live only (not saved): the pipeline's occupancy, for the progress line.
    proposing: int = 0
    queued: int = 0
    evaluating: int = 0
    paused_for: str = ""  # the program a review gate waits for (evolve.engine.gate)

    def evals_per_s(self) -> float:
        elapsed = time.monotonic() - self.started_at
        return self.evaluations_this_run / elapsed if elapsed > 0 else 0.0

    def to_state(self) -> dict[str, Any]:
        return {
            "next_iteration": self.next_iteration,
            "evaluations": self.evaluations,
            "statuses": dict(self.statuses),
            "duplicates": self.duplicates,
            "rejected_edits": self.rejected_edits,
            "not_novel": self.not_novel,
            "stale_dropped": self.stale_dropped,
            "extra_scorer_runs": self.extra_scorer_runs,
            "best_score": self.best_score,
            "llm_calls": self.llm_calls,
            "llm_tokens": self.llm_tokens,
            "cost_usd": self.cost_usd,
            "stop_reason": self.stop_reason,
        }

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> Progress:
        return cls(
            next_iteration=state["next_iteration"],
            evaluations=state["evaluations"],
            statuses=Counter(state["statuses"]),
            duplicates=state["duplicates"],
            rejected_edits=state["rejected_edits"],
            not_novel=state.get("not_novel", 0),
            stale_dropped=state.get("stale_dropped", 0),
            extra_scorer_runs=state.get("extra_scorer_runs", 0),
            best_score=state["best_score"],
            llm_calls=state.get("llm_calls", 0),
            llm_tokens=state.get("llm_tokens", 0),
            cost_usd=state.get("cost_usd", 0.0),
        )


@dataclass(frozen=True)
class Draw:
    """One iteration's start: its number, the sampled parent and inspirations, and
    the seed its proposal gets."""

    iteration: int
    sample: Sample
    seed: int
    population: int = 0  # programs in the database when the sample was drawn


@dataclass(frozen=True)
class Rejection:
    """A proposal that gave no child, with why (``details``: fields of its event,
    such as the nearest program of a child that was not novel)."""

    iteration: int
    parent: Program
    kind: str
    reason: str
    proposal: Proposal | None
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Duplicate:
    """A child whose code is already known: it reuses the original's result."""

    child: Program
    original_id: str


@dataclass(frozen=True)
class Pending:
    """A child on its way to evaluation, with what produced it."""

    child: Program
    proposal: Proposal
    parent_fitness: float | None
    sampled_at: int = 0  # programs in the database when its parent was sampled
    novelty: Verdict | None = None  # its novelty check ([novelty]), when one ran


# What a candidate's proposal came to before any evaluation.
Outcome = Pending | Rejection | Duplicate


def iteration_seed(run_seed: int, iteration: int) -> int:
    """Independent, reproducible seed for one proposal (no shared RNG stream,
    so concurrency cannot change which edit an iteration gets)."""
    return int(np.random.SeedSequence([run_seed, iteration]).generate_state(1)[0])
