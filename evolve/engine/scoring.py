"""Turn an evaluation result into a program's score and fitness, and build the
scored record: the one place a ``Program`` gets its status.

The controller validates every result again here (the sandbox already did):
the objective metric must be present and finite for a program to count as OK.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

from evolve.config import ObjectiveSpec
from evolve.records import Program, Status
from sandboxes.job import EvalResult

__all__ = ["Scored", "as_duplicate", "score_result", "scored_program"]


@dataclass(frozen=True)
class Scored:
    status: Status
    score: float | None
    fitness: float | None
    reason: str


def score_result(result: EvalResult, objective: ObjectiveSpec) -> Scored:
    """Score and fitness (higher is better) of ``result``; None unless OK."""
    if result.status != Status.OK:
        return Scored(result.status, None, None, result.reason)
    value = result.metrics.get(objective.metric)  # a "mean" fallback is the harness's
    if value is None:
        names = ", ".join(sorted(result.metrics)) or "none"
        return Scored(
            Status.INVALID,
            None,
            None,
            f"the scorer returned no '{objective.metric}' metric (got: {names}); return it, "
            "or set [objective] metric in problem.toml",
        )
    if not isinstance(value, int | float) or isinstance(value, bool) or not math.isfinite(value):
        return Scored(Status.INVALID, None, None, f"objective '{objective.metric}' is {value!r}")
    value = float(value)
    return Scored(Status.OK, value, value if objective.maximize else -value, "")


def scored_program(candidate: Program, result: EvalResult, objective: ObjectiveSpec) -> Program:
    """The record of ``candidate`` once evaluated: status, score, fitness, reason,
    metrics, artifacts and wall time, all from ``result``."""
    if candidate.scored:
        raise ValueError(f"{candidate.id} is already scored ({candidate.status})")
    scored = score_result(result, objective)
    return dataclasses.replace(
        candidate,
        status=scored.status,
        score=scored.score,
        fitness=scored.fitness,
        reason=scored.reason,
        metrics=dict(result.metrics),
        artifacts=dict(result.artifacts),
        wall_time_s=result.wall_time_s,
    )


def as_duplicate(child: Program, original: Program) -> Program:
    """The record of ``child``, whose code ``original`` already had: it reuses the
    original's result (and is not evaluated)."""
    if child.scored or not original.scored:
        raise ValueError(f"{child.id} cannot reuse the result of {original.id}")
    return dataclasses.replace(
        child,
        duplicate_of=original.id,
        status=original.status,
        metrics=dict(original.metrics),
        score=original.score,
        fitness=original.fitness,
        reason=original.reason,
    )
