"""How programs compare: sort keys, failure order and Pareto fronts.

Every island keeps its members sorted by a static key, smaller is better:
programs with a usable fitness first (by fitness, or by their objectives in
lexicographic order), then failures, the ones closest to working first. With
the Pareto order, the static key is the lexicographic one (a linear extension
of dominance: a program always sorts before those it dominates) and the island
re-ranks its members by front when asked (see ``Island``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np

from evolve.database.binning import cell_of
from evolve.database.config import DatabaseConfig, Objective
from evolve.database.features import feature_values
from evolve.records import Program, Status

__all__ = [
    "FAILURE_ORDER",
    "Ordering",
    "describe",
    "oriented_objectives",
    "pareto_fronts",
    "rank_class",
]

# Which failures rank higher among programs without a fitness: a scorer's
# rejection is closest to a working program, a crash the furthest.
FAILURE_ORDER = {
    Status.OK: 0,
    Status.INVALID: 0,
    Status.TIMEOUT: 1,
    Status.OOM: 2,
    Status.ERROR: 3,
}

SortKey = tuple[float | int, ...]


def oriented_objectives(
    metrics: Mapping[str, object], objectives: Sequence[Objective]
) -> list[float]:
    """Each objective's metric, negated when minimised (higher is better); NaN if unusable."""
    values = feature_values("", metrics, [o.metric for o in objectives])
    return [v if o.direction == "maximize" else -v for v, o in zip(values, objectives, strict=True)]


def rank_class(program: Program, objective_values: Sequence[float]) -> int:
    """0 if selection can rank ``program`` by fitness, else 1 + its failure order.

    A program that scored but lacks a finite value for some objective ranks
    with the scorer's rejections: it cannot be compared, but is closest to working.
    """
    if program.fitness is None:
        assert program.status is not None, "only scored programs are ranked"
        return 1 + FAILURE_ORDER.get(program.status, len(FAILURE_ORDER))
    if any(math.isnan(v) for v in objective_values):
        return 1 + FAILURE_ORDER[Status.INVALID]
    return 0


def describe(program: Program, config: DatabaseConfig) -> tuple[int, list[float], tuple[int, ...]]:
    """(rank class, oriented objectives, MAP-Elites cell) of a program being added."""
    objectives = oriented_objectives(program.metrics, config.objectives)
    cell: tuple[int, ...] = ()
    if config.dimensions:
        names = [d.name for d in config.dimensions]
        cell = cell_of(feature_values(program.code, program.metrics, names), config.dimensions)
    return rank_class(program, objectives), objectives, cell


class Ordering:
    """Static sort keys (smaller is better; ties go to the earlier program)."""

    def __init__(self, num_objectives: int) -> None:
        self.num_objectives = num_objectives

    def key(self, rank_class: int, fitness: float, objectives: np.ndarray, idx: int) -> SortKey:
        if rank_class:
            return (rank_class, idx)
        if self.num_objectives == 0:
            return (0, -fitness, idx)
        return (0, *(-objectives).tolist(), idx)


def pareto_fronts(values: np.ndarray) -> np.ndarray:
    """Front of each row (0 = non-dominated), higher being better in every column.

    Non-dominated sorting over an explicit dominance matrix: O(n^2 k) time and
    O(n^2) memory, which is why Pareto islands are bounded in size.
    """
    n = len(values)
    fronts = np.full(n, -1, dtype=np.int64)
    if n == 0:
        return fronts
    at_least = np.ones((n, n), dtype=bool)
    better = np.zeros((n, n), dtype=bool)
    for column in values.T:
        at_least &= column[:, None] >= column[None, :]
        better |= column[:, None] > column[None, :]
    dominates = at_least & better  # [i, j]: i dominates j
    pending = dominates.sum(axis=0)  # programs still dominating j
    current = np.flatnonzero(pending == 0)
    front = 0
    while current.size:
        fronts[current] = front
        pending[current] = -1
        pending -= dominates[current].sum(axis=0)
        current = np.flatnonzero(pending == 0)
        front += 1
    return fronts
