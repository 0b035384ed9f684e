"""The UCB1 bandit shared by the choices that learn from score gains: which
model answers a proposal (``llm.ensemble``) and which system-prompt variant
asks it (``meta.archive``)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["MIN_COST_PER_CALL_USD", "Arm", "ucb_scores"]

# Floor on the cost of one call when computing improvement per dollar, so free
# local models (price 0) rank by improvement per call instead of dividing by 0.
MIN_COST_PER_CALL_USD = 1e-6


@dataclass
class Arm:
    """Bandit statistics of one model.

    ``pulls`` counts choices (made before the reward is known, so calls in
    flight already spread exploration); ``cost_usd`` and ``improvement``
    accumulate as calls finish and children are scored. A proposal that never
    gets feedback (rejected edit) counts as zero improvement for its cost.
    """

    pulls: int = 0
    cost_usd: float = 0.0
    improvement: float = 0.0
    reports: int = 0

    def value(self) -> float:
        """Improvement per dollar."""
        return self.improvement / max(self.cost_usd, self.pulls * MIN_COST_PER_CALL_USD, 1e-12)


def ucb_scores(arms: Sequence[Arm], exploration: float) -> list[float]:
    """UCB1 index per arm, values normalised to [0, 1] by the best arm's value
    (UCB1 assumes bounded rewards; improvement per dollar is not)."""
    total = sum(a.pulls for a in arms)
    best = max((a.value() for a in arms if a.pulls), default=0.0)
    scores = []
    for arm in arms:
        if arm.pulls == 0:
            scores.append(math.inf)
            continue
        mean = arm.value() / best if best > 0 else 0.0
        scores.append(mean + exploration * math.sqrt(2 * math.log(total) / arm.pulls))
    return scores
