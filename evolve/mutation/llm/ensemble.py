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
from dataclasses import asdict
from typing import Any, Literal

from evolve.config import ModelSpec
from evolve.mutation.bandit import Arm, ucb_scores

__all__ = ["Arm", "Ensemble", "ucb_scores"]


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
