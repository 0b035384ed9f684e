"""Parent selection: which rank of an island becomes the next parent.

A strategy sees only the number of candidates (the island's valid programs,
or all of them when none is valid) and the generator, and returns a rank,
0 being the best. Candidates are kept sorted by the island, so every strategy
here is O(1) (tournament: O(tournament_size)) whatever the island's size.
A new strategy is a new class plus a line in ``make_selector``.
"""

from __future__ import annotations

import math
from typing import Protocol

import numpy as np

from evolve.database.config import DatabaseConfig

__all__ = [
    "ParentSelector",
    "RankSelector",
    "TournamentSelector",
    "UniformSelector",
    "expected_rank_share",
    "make_selector",
    "power_law_rank",
]


class ParentSelector(Protocol):
    def select(self, num_candidates: int, rng: np.random.Generator) -> int:
        """Rank in ``[0, num_candidates)`` of the chosen parent (``num_candidates`` >= 1)."""
        ...


def power_law_rank(num_candidates: int, exponent: float, u: float) -> int:
    """Map a uniform ``u`` in [0, 1) to a rank, P(rank r) roughly (r + 1.5) ** -exponent.

    Inverse CDF of the density x ** -exponent on [1, n + 1), floored: an O(1)
    stand-in for normalising n discrete weights on every draw.
    """
    if num_candidates <= 1:
        return 0
    top = num_candidates + 1.0
    b = 1.0 - exponent
    x = top**u if abs(b) < 1e-9 else (1.0 + u * (top**b - 1.0)) ** (1.0 / b)
    return min(max(int(x) - 1, 0), num_candidates - 1)


def _explore(ratio: float, rng: np.random.Generator) -> bool:
    """Whether this draw ignores fitness (always consumes one draw, for reproducibility)."""
    return rng.random() < ratio


class UniformSelector:
    """Every candidate equally likely: pure exploration."""

    def select(self, num_candidates: int, rng: np.random.Generator) -> int:
        return int(rng.integers(num_candidates))


class RankSelector:
    """Power law over fitness ranks, with a uniform draw with probability ``exploration_ratio``.

    Ranks rather than raw fitness, so the pressure does not depend on the scale
    of the problem's objective.
    """

    def __init__(self, exponent: float, exploration_ratio: float) -> None:
        self.exponent = exponent
        self.exploration_ratio = exploration_ratio

    def select(self, num_candidates: int, rng: np.random.Generator) -> int:
        if _explore(self.exploration_ratio, rng):
            return int(rng.integers(num_candidates))
        return power_law_rank(num_candidates, self.exponent, rng.random())


class TournamentSelector:
    """Best of ``size`` uniform draws (with replacement), or a uniform draw when exploring."""

    def __init__(self, size: int, exploration_ratio: float) -> None:
        self.size = size
        self.exploration_ratio = exploration_ratio

    def select(self, num_candidates: int, rng: np.random.Generator) -> int:
        if _explore(self.exploration_ratio, rng):
            return int(rng.integers(num_candidates))
        return int(rng.integers(num_candidates, size=self.size).min())


def make_selector(config: DatabaseConfig) -> ParentSelector:
    """The strategy named by ``config.selection``."""
    if config.selection == "rank":
        return RankSelector(config.rank_exponent, config.exploration_ratio)
    if config.selection == "tournament":
        return TournamentSelector(config.tournament_size, config.exploration_ratio)
    if config.selection == "uniform":
        return UniformSelector()
    raise ValueError(f"unknown selection {config.selection!r}")


def expected_rank_share(num_candidates: int, exponent: float, rank: int) -> float:
    """Exact probability that ``power_law_rank`` returns ``rank`` (for tests and docs)."""
    top = num_candidates + 1.0
    b = 1.0 - exponent

    def cdf(x: float) -> float:
        if abs(b) < 1e-9:
            return math.log(x) / math.log(top)
        return (x**b - 1.0) / (top**b - 1.0)

    if rank == num_candidates - 1:
        return 1.0 - cdf(rank + 1.0)
    return cdf(rank + 2.0) - cdf(rank + 1.0)
