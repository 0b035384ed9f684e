"""Which model answers a proposal: weighted random choice, or a UCB1 bandit
over "score improvement per dollar".

The choice is drawn from the proposal's own RNG (seeded by the controller per
iteration), so with weighted selection a run's model sequence is reproducible
regardless of concurrency. The bandit's choice also depends on the feedback
received so far, which is the point of it.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any, Literal

from evolve.config import ModelSpec

__all__ = ["Arm", "Ensemble"]

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


class Ensemble:
    """The models of a config and the policy that picks one per proposal."""

    def __init__(
        self,
        models: Sequence[ModelSpec],
        selection: Literal["weighted", "ucb"] = "weighted",
        exploration: float = 1.0,
    ) -> None:
        if not models:
            raise ValueError("an ensemble needs at least one model")
        self.models = list(models)
        self.selection = selection
        self.exploration = exploration
        self.arms = {m.key: Arm() for m in self.models}

    def choose(self, rng: random.Random) -> ModelSpec:
        """The model for one proposal (counted as a pull)."""
        if self.selection == "weighted" or len(self.models) == 1:
            spec = rng.choices(self.models, weights=[m.weight for m in self.models])[0]
        else:
            scores = ucb_scores([self.arms[m.key] for m in self.models], self.exploration)
            top = max(scores)
            tied = [m for m, s in zip(self.models, scores, strict=True) if s == top]
            spec = tied[0] if len(tied) == 1 else rng.choice(tied)
        self.arms[spec.key].pulls += 1
        return spec

    def withdraw(self, model: str) -> None:
        """Take back a choice whose proposal was cancelled (the run stopped): it
        is redone on resume, where it is chosen and counted again."""
        if model in self.arms and self.arms[model].pulls > 0:
            self.arms[model].pulls -= 1

    def charge(self, model: str, cost_usd: float) -> None:
        """A call of ``model`` finished and cost ``cost_usd``."""
        if model in self.arms:
            self.arms[model].cost_usd += cost_usd

    def report(self, model: str, improvement: float) -> None:
        """A child of ``model`` was scored; only gains count (a worse child is 0)."""
        if model in self.arms:
            arm = self.arms[model]
            arm.improvement += max(0.0, improvement) if math.isfinite(improvement) else 0.0
            arm.reports += 1

    def snapshot(self) -> dict[str, Any]:
        """JSON-ready state for a checkpoint."""
        return {"arms": {key: asdict(arm) for key, arm in self.arms.items()}}

    def restore(self, state: dict[str, Any]) -> None:
        """Resume from ``snapshot()``; models no longer configured are dropped,
        new ones start fresh."""
        for key, fields in state.get("arms", {}).items():
            if key in self.arms:
                self.arms[key] = Arm(**fields)
