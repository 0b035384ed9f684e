"""Parent selection: which member of an island's pool becomes the next parent.

A strategy sees the island's pool (its valid members, or all of them when
none is valid, best first) and the database's generator, and returns a
program index. Rank-based strategies cost O(log n) whatever the island's size;
fitness-weighted ones weigh the pool's top ``selection_window`` members, so a
draw is O(window). A new strategy is a new class plus a line in ``_FACTORIES``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Protocol

import numpy as np

from evolve.database.config import DatabaseConfig

__all__ = [
    "MixSelector",
    "ParentSelector",
    "Pool",
    "RankSelector",
    "SeedSelector",
    "SoftmaxSelector",
    "TournamentSelector",
    "UniformSelector",
    "WeightedSelector",
    "expected_rank_share",
    "make_selector",
    "power_law_rank",
]


class Pool(Protocol):
    """An island's parent candidates, best first."""

    @property
    def size(self) -> int: ...

    def idx_at(self, rank: int) -> int:
        """Program index at ``rank`` (0 is the best)."""
        ...

    def top(self, count: int) -> np.ndarray:
        """Program indices of the best ``count`` candidates (fewer if the pool is smaller)."""
        ...

    def scores(self, count: int) -> np.ndarray:
        """Selection fitness of ``top(count)``, higher is better (see ``IslandPool``)."""
        ...

    def children(self, indices: np.ndarray) -> np.ndarray:
        """Children already added for each program."""
        ...


class ParentSelector(Protocol):
    def select(self, pool: Pool, rng: np.random.Generator) -> int:
        """Program index of the chosen parent (``pool.size`` >= 1)."""
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


def expected_rank_share(num_candidates: int, exponent: float, rank: int) -> float:
    """Exact probability that ``power_law_rank`` returns ``rank`` (for tests and docs)."""
    top = num_candidates + 1.0
    b = 1.0 - exponent

    def cdf(x: float) -> float:
        if abs(b) < 1e-9:
            return math.log(x) / math.log(top)
        return float((x**b - 1.0) / (top**b - 1.0))

    if rank == num_candidates - 1:
        return 1.0 - cdf(rank + 1.0)
    return cdf(rank + 2.0) - cdf(rank + 1.0)


def draw_weighted(weights: np.ndarray, rng: np.random.Generator) -> int:
    """Position drawn with probability proportional to ``weights`` (uniform if all zero)."""
    total = np.cumsum(weights)
    if not total[-1] > 0:
        return int(rng.integers(len(weights)))
    at = int(np.searchsorted(total, rng.random() * total[-1], side="right"))
    return min(at, len(weights) - 1)


def _explore(ratio: float, rng: np.random.Generator) -> bool:
    """Whether this draw ignores fitness (always consumes one draw, for reproducibility)."""
    return rng.random() < ratio


class UniformSelector:
    """Every candidate equally likely: pure exploration."""

    def select(self, pool: Pool, rng: np.random.Generator) -> int:
        return pool.idx_at(int(rng.integers(pool.size)))


class RankSelector:
    """Power law over fitness ranks, uniform with probability ``exploration_ratio``.

    Ranks rather than raw fitness, so the pressure does not depend on the scale
    of the problem's objective.
    """

    def __init__(self, exponent: float, exploration_ratio: float) -> None:
        self.exponent = exponent
        self.exploration_ratio = exploration_ratio

    def select(self, pool: Pool, rng: np.random.Generator) -> int:
        if _explore(self.exploration_ratio, rng):
            return pool.idx_at(int(rng.integers(pool.size)))
        return pool.idx_at(power_law_rank(pool.size, self.exponent, rng.random()))


class TournamentSelector:
    """Best of ``size`` uniform draws (with replacement), or a uniform draw when exploring."""

    def __init__(self, size: int, exploration_ratio: float) -> None:
        self.size = size
        self.exploration_ratio = exploration_ratio

    def select(self, pool: Pool, rng: np.random.Generator) -> int:
        if _explore(self.exploration_ratio, rng):
            return pool.idx_at(int(rng.integers(pool.size)))
        return pool.idx_at(int(rng.integers(pool.size, size=self.size).min()))


class SoftmaxSelector:
    """Fitness-proportional: softmax of fitness over the pool's top ``window``.

    Fitness is rescaled to [-1, 0] over the window first, so ``temperature``
    means the same on every problem.
    """

    def __init__(self, temperature: float, window: int) -> None:
        self.temperature = temperature
        self.window = window

    def select(self, pool: Pool, rng: np.random.Generator) -> int:
        candidates = pool.top(self.window)
        scores = pool.scores(self.window)
        spread = float(scores.max() - scores.min())
        scaled = (scores - scores.max()) / spread if spread > 0 else np.zeros_like(scores)
        return int(candidates[draw_weighted(np.exp(scaled / self.temperature), rng)])


class WeightedSelector:
    """ShinkaEvolve's rule: sigmoid of normalised fitness times 1 / (1 + children).

    Fitness is centred on the window's median and scaled by its median absolute
    deviation; the child term steers away from parents already mutated often.
    """

    def __init__(self, sharpness: float, window: int) -> None:
        self.sharpness = sharpness
        self.window = window

    def select(self, pool: Pool, rng: np.random.Generator) -> int:
        candidates = pool.top(self.window)
        scores = pool.scores(self.window)
        weights = weighted_rule(scores, pool.children(candidates), self.sharpness)
        return int(candidates[draw_weighted(weights, rng)])


def weighted_rule(scores: np.ndarray, children: np.ndarray, sharpness: float) -> np.ndarray:
    """Unnormalised ShinkaEvolve weights: sigmoid(l * (s - median) / MAD) / (1 + children)."""
    median = float(np.median(scores))
    scale = max(float(np.median(np.abs(scores - median))), 1e-6)
    z = sharpness * (scores - median) / scale
    return 0.5 * (1.0 + np.tanh(0.5 * z)) / (1.0 + children)


class SeedSelector:
    """Always the first program the database was given, the seed, whatever the
    island holds: every child is a child of the seed (best-of-N sampling, the
    baseline evolution is measured against)."""

    def select(self, pool: Pool, rng: np.random.Generator) -> int:
        return 0


class MixSelector:
    """Each draw first picks a strategy by its share, then delegates to it."""

    def __init__(self, parts: list[tuple[float, ParentSelector]]) -> None:
        self.shares = np.array([share for share, _ in parts], dtype=np.float64)
        self.selectors = [selector for _, selector in parts]

    def select(self, pool: Pool, rng: np.random.Generator) -> int:
        return self.selectors[draw_weighted(self.shares, rng)].select(pool, rng)


_FACTORIES: dict[str, Callable[[DatabaseConfig], ParentSelector]] = {
    "uniform": lambda c: UniformSelector(),
    "rank": lambda c: RankSelector(c.rank_exponent, c.exploration_ratio),
    "tournament": lambda c: TournamentSelector(c.tournament_size, c.exploration_ratio),
    "fitness": lambda c: SoftmaxSelector(c.softmax_temperature, c.selection_window),
    "weighted": lambda c: WeightedSelector(c.weighted_lambda, c.selection_window),
    "seed": lambda c: SeedSelector(),
}


def make_selector(config: DatabaseConfig) -> ParentSelector:
    """The strategy named by ``config.selection``."""
    if config.selection == "mix":
        parts = [(share, _FACTORIES[name](config)) for name, share in config.selection_mix.items()]
        return MixSelector(parts)
    return _FACTORIES[config.selection](config)
