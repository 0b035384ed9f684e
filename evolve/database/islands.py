"""An island: one sub-population (the selection pool) plus its MAP-Elites cells.

Members are kept sorted by their static key in a ``RankedList``, so "the i-th
best" costs O(log n) and the top few O(1): selection and inspiration cost the
same on an island of ten programs as on one of a million. Each island also
maps its cells to their elites; a child that does not beat its cell's elite
still joins the population (it may be a good parent) but not the cell.
Programs are indices into the database's ``ProgramTable``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator

import numpy as np

from evolve.database.objectives import SortKey
from evolve.database.ranked import RankedList

__all__ = ["Cell", "Island"]

Cell = tuple[int, ...]


class Island:
    """Membership, rank order, code index, migrant flags and cells of one island.

    ``generation`` counts children added to this island (seeds, migrants and
    re-seeds do not count); the database advances it. ``record`` is the best
    fitness any member has had since the island was last emptied (-inf before
    a valid one), and ``stale`` the children since one last beat it (both for
    ``stagnation``; the archipelago keeps them). ``key_of(idx)`` gives a
    program's sort key; with ``fronts_of`` (Pareto order) the valid members
    are re-ranked by front, lazily, after any change.
    """

    def __init__(
        self,
        index: int,
        key_of: Callable[[int], SortKey],
        fronts_of: Callable[[np.ndarray], np.ndarray] | None = None,
        cache_size: int = 256,
    ) -> None:
        self.index = index
        self.generation = 0
        self.num_valid = 0
        self.record = -math.inf
        self.stale = 0
        self._key_of = key_of
        self._fronts_of = fronts_of
        self._cache_size = cache_size
        self._ranked = RankedList()
        self._codes: dict[int, int] = {}  # normalised code hash -> member index
        self._migrants: set[int] = set()
        self._cells: dict[Cell, int] = {}  # cell -> elite index
        self._cell_order: list[Cell] = []  # cells in the order they were first filled
        self._top: np.ndarray | None = None  # cached head of the rank order
        self._top_bound: SortKey | None = None  # key of the cache's last entry
        self._pareto: tuple[np.ndarray, np.ndarray] | None = None  # (valid order, fronts)

    # ----- membership ------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._ranked)

    def holder_of(self, norm_key: int) -> int | None:
        """Index of the member with this normalised code, or None."""
        return self._codes.get(norm_key)

    @property
    def num_migrants(self) -> int:
        return len(self._migrants)

    def is_migrant(self, idx: int) -> bool:
        """Whether ``idx`` arrived here by migration or re-seeding (it never migrates on)."""
        return idx in self._migrants

    def place(self, idx: int, norm_key: int, valid: bool, *, migrant: bool = False) -> None:
        """Add a member; the caller has checked that its code is not here yet."""
        if norm_key in self._codes:
            raise ValueError(f"program {idx} or its code is already on island {self.index}")
        key = self._key_of(idx)
        self._ranked.add(key)
        self._codes[norm_key] = idx
        if migrant:
            self._migrants.add(idx)
        self.num_valid += valid
        self._changed(key, valid)

    def remove(self, idx: int, norm_key: int, valid: bool) -> None:
        key = self._key_of(idx)
        self._ranked.remove(key)
        del self._codes[norm_key]
        self._migrants.discard(idx)
        self.num_valid -= valid
        self._changed(key, valid)

    def clear(self) -> None:
        """Empty the population and the cells (a reset); the generation keeps counting,
        the record and the stagnation count start again."""
        self.record = -math.inf
        self.stale = 0
        self._ranked.clear()
        self._codes.clear()
        self._migrants.clear()
        self._cells.clear()
        self._cell_order.clear()
        self.num_valid = 0
        self._top = self._top_bound = self._pareto = None

    def _changed(self, key: SortKey, valid: bool) -> None:
        if self._top is not None and (self._top_bound is None or key <= self._top_bound):
            self._top = self._top_bound = None
        if valid:
            self._pareto = None

    # ----- rank order ------------------------------------------------------------------

    @property
    def pool_size(self) -> int:
        """Parent candidates: the valid members, or every member when none is valid."""
        return self.num_valid or len(self._ranked)

    def idx_at(self, rank: int) -> int:
        """The member at ``rank`` (0 is the best)."""
        if self._fronts_of is not None and rank < self.num_valid:
            return int(self._pareto_order()[0][rank])
        return int(self._ranked[rank][-1])

    def top(self, count: int) -> np.ndarray:
        """The best ``count`` members of the pool (fewer if it is smaller), best first."""
        count = min(count, self.pool_size)
        if self._fronts_of is not None and self.num_valid:
            return self._pareto_order()[0][:count]
        if count > self._cache_size:
            return np.fromiter((k[-1] for k in self._ranked.head(count)), np.int64, count)
        if self._top is None:
            head = self._ranked.head(self._cache_size)
            self._top = np.fromiter((k[-1] for k in head), np.int64, len(head))
            # A cache that holds the whole island is stale after any insertion.
            self._top_bound = head[-1] if len(head) == self._cache_size else None
        return self._top[:count]

    def fronts(self, count: int) -> np.ndarray:
        """Pareto fronts of ``top(count)`` (Pareto islands with valid members only)."""
        return self._pareto_order()[1][: min(count, self.num_valid)]

    def member_list(self) -> list[int]:
        """Members, best first, as a list (faster than ``ranked_indices`` for all of them)."""
        if self._fronts_of is not None and self.num_valid:
            return list(self.ranked_indices())
        return [key[-1] for key in self._ranked]

    def migrant_set(self) -> set[int]:
        return set(self._migrants)

    def ranked_indices(self) -> Iterator[int]:
        """Members, best first (lazy; the Pareto order materialises the valid part)."""
        if self._fronts_of is not None and self.num_valid:
            yield from (int(i) for i in self._pareto_order()[0])
            for rank in range(self.num_valid, len(self._ranked)):
                yield self._ranked[rank][-1]
            return
        yield from (key[-1] for key in self._ranked)

    def best_idx(self) -> int | None:
        return self.idx_at(0) if len(self._ranked) else None

    def weakest_idx(self) -> int:
        return self.idx_at(len(self._ranked) - 1)

    def migrant_indices(self) -> list[int]:
        """Members that arrived by migration, best first. O(size)."""
        return [i for i in self.ranked_indices() if i in self._migrants]

    def _pareto_order(self) -> tuple[np.ndarray, np.ndarray]:
        """Valid members by (front, static key), recomputed after any change."""
        if self._pareto is None:
            assert self._fronts_of is not None
            valid = np.fromiter(
                (k[-1] for k in self._ranked.head(self.num_valid)), np.int64, self.num_valid
            )
            fronts = self._fronts_of(valid)
            order = np.argsort(fronts, kind="stable")
            self._pareto = (valid[order], fronts[order])
        return self._pareto

    # ----- MAP-Elites cells ------------------------------------------------------------

    @property
    def num_cells(self) -> int:
        return len(self._cells)

    def offer_cell(self, idx: int, cell: Cell) -> bool:
        """Make ``idx`` its cell's elite if the cell is empty or it beats the elite."""
        elite = self._cells.get(cell)
        if elite is not None and self._key_of(elite) <= self._key_of(idx):
            return False
        if elite is None:
            self._cell_order.append(cell)
        self._cells[cell] = idx
        return True

    def elite_of(self, cell: Cell) -> int | None:
        return self._cells.get(cell)

    def cell_at(self, position: int) -> Cell:
        """The ``position``-th cell filled (for uniform draws over cells)."""
        return self._cell_order[position]

    def cells(self) -> dict[Cell, int]:
        """Cell -> elite, in the order the cells were first filled."""
        return {cell: self._cells[cell] for cell in self._cell_order}

    def restore_cells(self, elites: list[int], cell_of: Callable[[int], Cell]) -> None:
        """Refill cells from elites listed in fill order (snapshots)."""
        for idx in elites:
            cell = cell_of(idx)
            self._cell_order.append(cell)
            self._cells[cell] = idx

    def load_members(
        self, members: list[int], migrants: list[int], norm_of: Callable[[int], int], valid: int
    ) -> None:
        """Bulk-load members (snapshots), in any order; ``valid`` of them are valid."""
        self._ranked = RankedList(sorted(self._key_of(i) for i in members))
        self._codes = {norm_of(i): i for i in members}
        self._migrants = set(migrants)
        self.num_valid = valid
        self._top = self._top_bound = self._pareto = None
