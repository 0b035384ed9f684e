"""Turn an evaluation result into a program's score and fitness.

The controller validates every result again here (the sandbox already did):
the objective metric must be present and finite for a program to count as OK.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from evolve.config import ObjectiveSpec
from evolve.records import Status
from sandboxes.job import EvalResult

__all__ = ["Scored", "score_result"]


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
    value = result.metrics.get(objective.metric)
    if value is None and objective.fallback == "mean":
        numbers = [v for v in result.metrics.values() if isinstance(v, int | float)]
        value = sum(numbers) / len(numbers) if numbers else None
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
