"""The islands and the archive, and every move of programs between them.

Placement (with the island's code index, its cells, the archive and
eviction), migration, reset and stagnation all change island membership (and
stagnation the number of islands); keeping them together means one place
decides what an event means and the facade only orchestrates. Programs are
indices into the ``ProgramTable``.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from evolve.database.archive import Archive
from evolve.database.config import DatabaseConfig
from evolve.database.events import (
    DuplicateCode,
    Event,
    Eviction,
    IslandReseeded,
    IslandReset,
    IslandSpawned,
    IslandStagnated,
    Migration,
)
from evolve.database.islands import Island
from evolve.database.migration import choose_migrants, migration_quota, migration_targets
from evolve.database.objectives import SortKey
from evolve.database.reset import plan_reset
from evolve.database.samples import IslandSummary
from evolve.database.stagnation import NO_RECORD, improves, respond
from evolve.database.table import ProgramTable

__all__ = ["Archipelago"]


class Archipelago:
    """The islands plus the cross-island archive.

    There are ``config.num_islands`` islands to begin with; a stagnant island
    may spawn more (``stagnate``), up to ``config.island_cap``, and islands are
    never removed, so an island's index stays valid for the whole run. Code
    that walks the islands uses ``len(self.islands)``, never the config.
    """

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
        self._key_of = key_of
        self._fronts_of = fronts_of
        self._cache = max(config.selection_window, config.num_inspirations + 1)
        self.islands: list[Island] = []
        self.grow_to(config.num_islands)
        self.archive = Archive(config.archive_size, config.archive_policy, key_of, table.cell)
        self.protected: int | None = None  # the database's best: never leaves the archive

    def grow_to(self, count: int) -> None:
        """Append empty islands until there are ``count`` (a spawn, or a restore of a
        run that spawned some). Appends to the same list, which the facade shares."""
        while len(self.islands) < count:
            index = len(self.islands)
            self.islands.append(Island(index, self._key_of, self._fronts_of, self._cache))

    def place(self, island: Island, idx: int, events: list[Event], migrant: bool) -> bool:
        """Put ``idx`` on ``island`` unless its code is there; update cells, archive, size.

        Returns whether ``idx`` raised the island's record (a valid program that
        beats every fitness the island has held): for a child, that is what
        resets its stagnation count; a seed, migrant or founder raises the
        record too, but only children are counted (``count_child``).
        """
        table = self.table
        norm_key = table.norm_key(idx)
        holder = island.holder_of(norm_key)
        if holder is not None:
            events.append(DuplicateCode(island.index, table.ids[idx], table.ids[holder]))
            return False
        valid = bool(table.rank_class[idx] == 0)
        island.place(idx, norm_key, valid, migrant=migrant)
        fitness = float(table.fitness[idx])
        raised = valid and improves(island.record, fitness)
        if raised:
            island.record = fitness
        if valid and island.offer_cell(idx, table.cell(idx)):
            self.archive.offer(idx, protected=self.protected)
        limit = self.config.max_island_size
        # The weakest of two or more members is never the best, so the best stays.
        while limit is not None and len(island) > limit:
            weakest = island.weakest_idx()
            island.remove(weakest, table.norm_key(weakest), bool(table.rank_class[weakest] == 0))
            events.append(Eviction(island.index, table.ids[weakest]))
        return raised

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
        bests, sizes = self._bests_and_sizes()
        for island_index, source in plan_reset(bests, sizes, self.rng):
            founder = self.islands[source].best_idx()
            assert founder is not None  # plan_reset only picks non-empty sources
            island = self.islands[island_index]
            island.clear()
            self.place(island, founder, events, migrant=True)
            events.append(IslandReset(island_index, source, table.ids[founder], len(table)))

    def count_child(self, island: Island, improved: bool, events: list[Event]) -> None:
        """Count a child added to ``island`` toward its stagnation (``improved``:
        it raised the record); at ``stagnation_window`` children in a row that
        did not, the island is stagnant and ``stagnate`` answers it.

        With stagnation off (window 0) nothing is counted, so a run that turns
        it on at a resume does not find every island already stagnant.
        """
        window = self.config.stagnation_window
        if not window:
            return
        if improved:
            island.stale = 0
            return
        island.stale += 1
        if island.stale >= window:
            self.stagnate(island, events)

    def stagnate(self, island: Island, events: list[Event]) -> None:
        """Answer ``island``'s stagnation (``stagnation.respond``) and start its count again.

        "reseed" empties it and re-seeds it with a strictly better island's best
        (a migrant there, as after a reset); "spawn" appends a new island
        founded by the run's best (a migrant there too); "none" changes nothing
        but the count. Draws from the database's generator only to choose among
        several better islands, so a replayed ``add`` decides the same.
        """
        table, config = self.table, self.config
        best = self.protected
        holds_best = best is not None and island.holder_of(table.norm_key(best)) == best
        can_spawn = (
            config.stagnation_action == "spawn"
            and best is not None
            and len(self.islands) < config.island_cap
        )
        bests, sizes = self._bests_and_sizes()
        response = respond(island.index, bests, sizes, holds_best, can_spawn, self.rng)
        record = None if island.record == NO_RECORD else island.record
        events.append(
            IslandStagnated(island.index, island.stale, record, response.action, len(table))
        )
        island.stale = 0
        if response.action == "reseed":
            assert response.source is not None
            founder = self.islands[response.source].best_idx()
            assert founder is not None  # respond only picks non-empty sources
            island.clear()
            self.place(island, founder, events, migrant=True)
            events.append(
                IslandReseeded(island.index, response.source, table.ids[founder], len(table))
            )
        elif response.action == "spawn":
            assert best is not None  # can_spawn needs a best to found the island with
            self.grow_to(len(self.islands) + 1)
            spawned = self.islands[-1]
            self.place(spawned, best, events, migrant=True)
            events.append(IslandSpawned(spawned.index, island.index, table.ids[best], len(table)))

    def _bests_and_sizes(self) -> tuple[list[float | None], list[int]]:
        """Each island's best fitness (None: no valid member) and size."""
        table = self.table
        bests: list[float | None] = []
        for island in self.islands:
            best = island.best_idx()
            valid = best is not None and table.rank_class[best] == 0
            bests.append(float(table.fitness[best]) if valid else None)
        return bests, [len(island) for island in self.islands]

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
