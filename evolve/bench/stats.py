"""The statistics of a benchmark table: medians with bootstrap intervals.

Runs of an evolutionary search are few (5 seeds) and their best scores are not
normal, so a table gives the median and a percentile-bootstrap interval of it,
from a generator seeded by the caller: the same runs print the same table.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

__all__ = ["Interval", "best_so_far", "first_reaching", "median_interval"]


@dataclass(frozen=True)
class Interval:
    """A median and its ``confidence`` bootstrap interval (NaN without data)."""

    median: float
    low: float
    high: float
    confidence: float = 0.95


def median_interval(
    values: Sequence[float], confidence: float = 0.95, resamples: int = 2000, seed: int = 0
) -> Interval:
    """The median of ``values`` (NaN ones left out) and a percentile-bootstrap
    interval of it; one value gives a zero-width interval, none gives NaNs."""
    data = np.asarray([v for v in values if v == v], dtype=np.float64)
    if not len(data):
        return Interval(float("nan"), float("nan"), float("nan"), confidence)
    rng = np.random.default_rng(seed)
    draws = rng.choice(data, size=(resamples, len(data)), replace=True)
    medians = np.median(draws, axis=1)
    tail = (1.0 - confidence) / 2.0
    low, high = np.quantile(medians, [tail, 1.0 - tail])
    return Interval(float(np.median(data)), float(low), float(high), confidence)


def best_so_far(scores: Sequence[float | None], maximize: bool) -> list[float]:
    """After each evaluation, the best score yet (NaN until one scored)."""
    best = float("nan")
    out = []
    for score in scores:
        if score is not None and score == score and _better(float(score), best, maximize):
            best = float(score)
        out.append(best)
    return out


def _better(score: float, best: float, maximize: bool) -> bool:
    return best != best or (score > best if maximize else score < best)


def first_reaching(curve: Sequence[float], threshold: float, maximize: bool) -> int | None:
    """How many evaluations a curve took to reach ``threshold`` (None: never)."""
    for count, value in enumerate(curve, 1):
        if value == value and (value >= threshold if maximize else value <= threshold):
            return count
    return None
