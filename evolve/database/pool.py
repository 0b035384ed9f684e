"""An island's parent candidates as the selection strategies see them.

The strategies ask for ranks, the head of the order, selection fitness and
child counts; this adapter answers from the island and the program table, so
a strategy never learns how either is stored.
"""

from __future__ import annotations

import numpy as np

from evolve.database.islands import Island
from evolve.database.table import ProgramTable

__all__ = ["IslandPool"]


class IslandPool:
    """The island's valid members (or all of them when none is valid), best first.

    Selection fitness, for strategies that weigh it: the program's fitness
    with a single objective; minus the Pareto front with the Pareto order;
    minus the rank with the lexicographic order, and among failures (a repair
    pool), where there is no fitness to weigh.
    """

    def __init__(self, island: Island, table: ProgramTable, order: str) -> None:
        self._island = island
        self._table = table
        self._order = order  # "fitness", "pareto" or "lexicographic"

    @property
    def size(self) -> int:
        return self._island.pool_size

    def idx_at(self, rank: int) -> int:
        return self._island.idx_at(rank)

    def top(self, count: int) -> np.ndarray:
        return self._island.top(count)

    def scores(self, count: int) -> np.ndarray:
        island = self._island
        if island.num_valid == 0 or self._order == "lexicographic":
            return -np.arange(min(count, island.pool_size), dtype=np.float64)
        if self._order == "pareto":
            return -island.fronts(count).astype(np.float64)
        fitness: np.ndarray = self._table.fitness[island.top(count)]
        return fitness

    def children(self, indices: np.ndarray) -> np.ndarray:
        counts: np.ndarray = self._table.children[indices].astype(np.float64)
        return counts
