"""The islands and the archive, and every move of programs between them.

Placement (with the island's code index, its cells, the archive and
eviction), migration and reset all change island membership; keeping them
together means one place decides what an event means and the facade only
orchestrates. Programs are indices into the ``ProgramTable``.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from evolve.database.archive import Archive
from evolve.database.config import DatabaseConfig
from evolve.database.events import DuplicateCode, Event, Eviction, IslandReset, Migration
from evolve.database.islands import Island
from evolve.database.migration import choose_migrants, migration_quota, migration_targets
from evolve.database.objectives import SortKey
from evolve.database.reset import plan_reset
from evolve.database.samples import IslandSummary
from evolve.database.table import ProgramTable

__all__ = ["Archipelago"]


class Archipelago:
    """``config.num_islands`` islands plus the cross-island archive."""

    def __init__(
        self,
        config: DatabaseConfig,
        table: ProgramTable,
        key_of: Callable[[int], SortKey],
        fronts_of: Callable[[np.ndarray], np.ndarray] | None,
        rng: np.random.Generator,
    ) -> None:
        self.config = config
        self.table = table
        self.rng = rng
        cache = max(config.selection_window, config.num_inspirations + 1)
        self.islands = [Island(i, key_of, fronts_of, cache) for i in range(config.num_islands)]
        self.archive = Archive(config.archive_size, config.archive_policy, key_of, table.cell)
        self.protected: int | None = None  # the database's best: never leaves the archive

    def place(self, island: Island, idx: int, events: list[Event], migrant: bool) -> None:
        """Put ``idx`` on ``island`` unless its code is there; update cells, archive, size."""
        table = self.table
        norm_key = table.norm_key(idx)
        holder = island.holder_of(norm_key)
        if holder is not None:
            events.append(DuplicateCode(island.index, table.ids[idx], table.ids[holder]))
            return
        valid = bool(table.rank_class[idx] == 0)
        island.place(idx, norm_key, valid, migrant=migrant)
        if valid and island.offer_cell(idx, table.cell(idx)):
            self.archive.offer(idx, protected=self.protected)
        limit = self.config.max_island_size
        # The weakest of two or more members is never the best, so the best stays.
        while limit is not None and len(island) > limit:
            weakest = island.weakest_idx()
            island.remove(weakest, table.norm_key(weakest), bool(table.rank_class[weakest] == 0))
            events.append(Eviction(island.index, table.ids[weakest]))

    def migrate(self, source: Island, events: list[Event]) -> None:
        """Copy ``source``'s best natives to its neighbours under the configured topology."""
        config = self.config
        quota = migration_quota(len(source), config.migration_fraction, config.max_migrants)
        if quota == 0:
            return
        n = len(self.islands)
        for target_index in migration_targets(source.index, n, config.migration_topology, self.rng):
            target = self.islands[target_index]
            for idx in choose_migrants(source, target, quota, self.table.norm_key):
                events.append(
                    Migration(source.index, target.index, self.table.ids[idx], source.generation)
                )
                self.place(target, idx, events, migrant=True)

    def reset(self, events: list[Event]) -> None:
        """Empty the weaker half of the islands; re-seed each from a surviving island's best."""
        table = self.table
        bests = []
        for island in self.islands:
            best = island.best_idx()
            valid = best is not None and table.rank_class[best] == 0
            bests.append(float(table.fitness[best]) if valid else None)
        sizes = [len(island) for island in self.islands]
        for island_index, source in plan_reset(bests, sizes, self.rng):
            founder = self.islands[source].best_idx()
            assert founder is not None  # plan_reset only picks non-empty sources
            island = self.islands[island_index]
            island.clear()
            self.place(island, founder, events, migrant=True)
            events.append(IslandReset(island_index, source, table.ids[founder], len(table)))

    def summary(self) -> tuple[IslandSummary, ...]:
        out = []
        for island in self.islands:
            best = island.best_idx()
            fitness = None if best is None else float(self.table.fitness[best])
            out.append(
                IslandSummary(
                    island=island.index,
                    size=len(island),
                    num_valid=island.num_valid,
                    num_migrants=island.num_migrants,
                    generation=island.generation,
                    best_id=None if best is None else self.table.ids[best],
                    best_fitness=None if fitness is None or math.isnan(fitness) else fitness,
                    num_cells=island.num_cells,
                )
            )
        return tuple(out)

    def first_non_empty(self, start: int) -> Island | None:
        """``start`` or the next island in the ring that has members."""
        n = len(self.islands)
        for step in range(n):
            island = self.islands[(start + step) % n]
            if len(island):
                return island
        return None
