"""The archive: a bounded set of elites gathered across all islands.

Islands reset and evict; the archive is what the run keeps regardless, and a
source of inspirations from other islands. Programs are offered when they
become a cell's elite on some island. When full, "fitness" replaces the
weakest member and "crowding" the most similar member among those weaker than
the newcomer (similarity: L1 distance between MAP-Elites cells), which keeps
the archive spread over the feature space instead of filling with near-copies
of the best. Only a weaker member is ever replaced, so the best stays.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from evolve.database.binning import UNKNOWN_CELL
from evolve.database.islands import Cell
from evolve.database.objectives import SortKey

__all__ = ["Archive", "cell_distances"]

# Distance along a dimension between a known and an unknown coordinate: farther
# than any two known cells, so crowding treats "unknown" as its own region.
_UNKNOWN_DISTANCE = float(2**33)


def cell_distances(cells: np.ndarray, cell: np.ndarray) -> np.ndarray:
    """L1 distance from ``cell`` to each row of ``cells`` (coordinates as int64)."""
    unknown_rows = cells == UNKNOWN_CELL
    unknown = cell == UNKNOWN_CELL
    diff = np.abs(cells - cell).astype(np.float64)
    diff[unknown_rows != unknown] = _UNKNOWN_DISTANCE
    diff[unknown_rows & unknown] = 0.0
    distances: np.ndarray = diff.sum(axis=1)
    return distances


class Archive:
    """At most ``size`` distinct programs, in the order they entered."""

    def __init__(
        self,
        size: int,
        policy: str,
        key_of: Callable[[int], SortKey],
        cell_of: Callable[[int], Cell],
    ) -> None:
        self.size = size
        self.policy = policy
        self._key_of = key_of
        self._cell_of = cell_of
        self._members: list[int] = []
        self._keys: list[SortKey] = []
        self._cells: list[Cell] = []
        self._index: set[int] = set()

    def __len__(self) -> int:
        return len(self._members)

    def __contains__(self, idx: object) -> bool:
        return idx in self._index

    def members(self) -> list[int]:
        return list(self._members)

    def member_at(self, position: int) -> int:
        return self._members[position]

    def offer(self, idx: int, protected: int | None = None) -> int | None:
        """Consider ``idx`` for the archive; returns the member it replaced, if any.

        ``protected`` (the database's best) is never replaced.
        """
        if self.size == 0 or idx in self._index:
            return None
        key, cell = self._key_of(idx), self._cell_of(idx)
        if len(self._members) < self.size:
            self._put(len(self._members), idx, key, cell)
            return None
        weaker = [i for i, k in enumerate(self._keys) if k > key and self._members[i] != protected]
        if not weaker:
            return None
        if self.policy == "crowding" and len(weaker) > 1:
            distances = cell_distances(
                np.array([self._cells[i] for i in weaker], dtype=np.int64),
                np.array(cell, dtype=np.int64),
            )
            closest = np.flatnonzero(distances == distances.min())
            slot = max((weaker[i] for i in closest), key=lambda i: self._keys[i])
        else:
            slot = max(weaker, key=lambda i: self._keys[i])
        evicted = self._members[slot]
        self._index.discard(evicted)
        self._put(slot, idx, key, cell)
        return evicted

    def _put(self, slot: int, idx: int, key: SortKey, cell: Cell) -> None:
        if slot == len(self._members):
            self._members.append(idx)
            self._keys.append(key)
            self._cells.append(cell)
        else:
            self._members[slot], self._keys[slot], self._cells[slot] = idx, key, cell
        self._index.add(idx)

    def load(self, members: list[int]) -> None:
        """Refill from a snapshot's member list."""
        self._members, self._keys, self._cells, self._index = [], [], [], set()
        for idx in members:
            self._put(len(self._members), idx, self._key_of(idx), self._cell_of(idx))
