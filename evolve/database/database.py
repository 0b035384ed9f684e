"""The population database: the one object the controller asks for parents.

A thin facade. It owns the program table, the islands, the archive, the
seeded generator and the counters; the policies live beside it (selection,
inspirations, migration, reset, stagnation, binning), so a new strategy never
grows this file. Checkpoints are in ``snapshot`` (full states) and ``journal``
(what changed since one, so a checkpoint costs what changed, not the
population).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from evolve.database import journal as journals
from evolve.database import snapshot as snapshots
from evolve.database.archipelago import Archipelago
from evolve.database.codehash import normalized_code_hash
from evolve.database.config import DatabaseConfig
from evolve.database.events import Event
from evolve.database.inspirations import choose_inspirations
from evolve.database.islands import Cell
from evolve.database.objectives import Ordering, SortKey, describe, pareto_fronts
from evolve.database.pool import IslandPool
from evolve.database.samples import EmptyDatabaseError, IslandSummary, Sample
from evolve.database.selection import make_selector
from evolve.database.table import ProgramTable
from evolve.records import Program

__all__ = ["EmptyDatabaseError", "IslandSummary", "PopulationDatabase", "Sample"]


class PopulationDatabase:
    """Programs on islands of MAP-Elites cells, with parent sampling and migration.

    *Island generation*: the number of children (programs with ``parent_ids``)
    whose ``add`` targeted the island, counting those not placed because their
    code was already there. Seeds, migrants and re-seeds do not advance it.
    Each time an island's generation reaches a multiple of
    ``migration_interval``, its best natives migrate to its neighbours. With
    ``stagnation_window``, an island whose last that-many children did not
    beat its record is re-seeded or spawns a new island
    (``evolve.database.stagnation``), so ``num_islands`` can grow during a
    run (never shrink) up to ``config.island_cap``.

    With ``program_lookup``, the database keeps only compact metadata and asks
    the run store for the few full programs that ``sample``, ``get``, ``best``
    and ``island_members`` return; without it, it keeps the programs in memory.
    Programs are treated as immutable once added. Every program added stays
    retrievable (``get``, ``find_duplicate``) after leaving its islands.
    """

    def __init__(
        self,
        config: DatabaseConfig,
        seed: int,
        program_lookup: Callable[[str], Program] | None = None,
    ) -> None:
        table = ProgramTable(len(config.objectives), len(config.dimensions), program_lookup)
        self._setup(config, np.random.default_rng(seed), table)

    def _setup(self, config: DatabaseConfig, rng: np.random.Generator, table: ProgramTable) -> None:
        """Wire the parts around ``table`` (shared by ``__init__`` and ``restore``)."""
        self.config = config
        self._rng = rng
        self._table = table
        self._selector = make_selector(config)
        self._ordering = Ordering(len(config.objectives))
        self._order = "fitness"
        if config.objectives:
            self._order = "pareto" if config.uses_pareto else "lexicographic"
        fronts_of = self._fronts if config.uses_pareto else None
        self._world = Archipelago(config, table, self._key_of, fronts_of, rng)
        self._islands = self._world.islands
        self._archive = self._world.archive
        self._best: int | None = None
        self._best_program: Program | None = None
        self._cursor = 0  # next island of round-robin sampling
        # Off until a checkpointer first takes it (``take_journal``): a database
        # nobody checkpoints incrementally must not grow a list per add.
        self._journal: journals.Journal | None = None

    def _key_of(self, idx: int) -> SortKey:
        t = self._table
        return self._ordering.key(
            int(t.rank_class[idx]), float(t.fitness[idx]), t.objectives[idx], idx
        )

    def _fronts(self, indices: np.ndarray) -> np.ndarray:
        return pareto_fronts(self._table.objectives[indices])

    # ----- adding --------------------------------------------------------------------

    def add(self, program: Program) -> list[Event]:
        """Store ``program`` and place it on its island(s); return what else happened.

        A seed (no ``parent_ids``) goes on every island; a child goes on
        ``program.island`` only, which the caller sets from ``Sample.island``.
        A program whose normalised code an island already holds is stored but
        not placed there (``DuplicateCode``). Programs without a fitness rank
        below every valid one. Cost: O(log n) per placement, plus O(max_migrants)
        when a migration is due and O(islands) for a reset or a stagnant island.
        """
        journal = self._journal
        if journal is None:
            return self._add(program)
        before = journal.before()
        events = self._add(program)
        journal.record({"op": "add", "id": program.id}, before)
        return events

    def _add(self, program: Program) -> list[Event]:
        table = self._table
        if program.status is None:
            raise ValueError(f"program {program.id} is not scored yet; score it before adding it")
        if table.index_of(program.id) is not None:
            raise ValueError(f"program {program.id} was already added to the database")
        if program.fitness is not None and program.fitness != program.fitness:
            raise ValueError(f"program {program.id} has a NaN fitness; use None for no fitness")
        if program.parent_ids and not 0 <= program.island < len(self._islands):
            raise ValueError(
                f"program {program.id} names island {program.island}, but the database "
                f"has islands 0..{len(self._islands) - 1}; set it from Sample.island"
            )
        norm = normalized_code_hash(program.code)
        idx = table.append(program, *describe(program, self.config), norm)
        for parent_id in program.parent_ids:
            parent = table.index_of(parent_id)
            if parent is not None:
                table.children[parent] += 1
        if program.fitness is not None and (
            self._best is None or program.fitness > table.fitness[self._best]
        ):
            self._best, self._best_program = idx, program
            self._world.protected = idx
        events: list[Event] = []
        world = self._world
        if not program.parent_ids:
            for island in self._islands:
                world.place(island, idx, events, migrant=False)
        else:
            island = self._islands[program.island]
            improved = world.place(island, idx, events, migrant=False)
            island.generation += 1
            if island.generation % self.config.migration_interval == 0:
                world.migrate(island, events)
            # After the migration, so a stagnant island's natives still spread
            # before a re-seed empties it.
            world.count_child(island, improved, events)
        interval = self.config.reset_interval
        if interval and len(table) % interval == 0:
            world.reset(events)
        return events

    def migrate(self, island: int) -> list[Event]:
        """Migrate out of ``island`` now, as if its generation had reached the interval."""
        self._check_island(island)
        events: list[Event] = []
        journal = self._journal
        before = journal.before() if journal is not None else {}
        self._world.migrate(self._islands[island], events)
        if journal is not None:
            journal.record({"op": "migrate", "island": island}, before)
        return events

    def reset(self) -> list[Event]:
        """Reset the weaker half of the islands now (see ``reset_interval``)."""
        events: list[Event] = []
        journal = self._journal
        before = journal.before() if journal is not None else {}
        self._world.reset(events)
        if journal is not None:
            journal.record({"op": "reset"}, before)
        return events

    # ----- sampling ------------------------------------------------------------------

    def sample(self, island: int | None = None) -> Sample:
        """A parent and inspirations from ``island``, or from the next island in turn.

        The parent comes from the island's valid programs, or, when it has none,
        from its invalid ones, best failures first (so a repair can be proposed
        from their errors). An empty island falls back to the next non-empty one
        in the ring. O(log n) for rank-based strategies, O(selection_window) for
        fitness-weighted ones, plus O(num_inspirations).
        """
        if not len(self._table):
            raise EmptyDatabaseError(
                "the database is empty: add the seed program (no parent_ids) before sampling"
            )
        if island is None:
            start = self._cursor
            self._cursor = (start + 1) % len(self._islands)
        else:
            self._check_island(island)
            start = island
        chosen = self._world.first_non_empty(start)
        if chosen is None:
            raise EmptyDatabaseError("every island is empty although programs were added")
        parent = self._selector.select(IslandPool(chosen, self._table, self._order), self._rng)
        config = self.config
        counts = (
            config.num_top_inspirations,
            config.archive_inspirations,
            config.num_inspirations - config.num_top_inspirations - config.archive_inspirations,
        )
        ids = choose_inspirations(
            chosen,
            parent,
            self._table.cell(parent),
            self._archive,
            self._table.norm_key,
            counts,
            self._rng,
        )
        fetch = self._table.program
        return Sample(chosen.index, fetch(parent), tuple(fetch(i) for i in ids))

    def _check_island(self, island: int) -> None:
        if not 0 <= island < len(self._islands):
            last = len(self._islands) - 1
            raise ValueError(f"island {island} does not exist; islands are 0..{last}")

    # ----- queries -------------------------------------------------------------------

    def __len__(self) -> int:
        """Number of programs ever added (evicted ones included)."""
        return len(self._table)

    def __contains__(self, program_id: object) -> bool:
        return isinstance(program_id, str) and self._table.index_of(program_id) is not None

    @property
    def num_islands(self) -> int:
        """The islands now (``config.num_islands`` plus any spawned at stagnation)."""
        return len(self._islands)

    def get(self, program_id: str) -> Program:
        """The program with this id; ``KeyError`` if it was never added."""
        idx = self._table.index_of(program_id)
        if idx is None:
            raise KeyError(f"no program {program_id!r} in the database")
        return self._table.program(idx)

    def best(self) -> Program | None:
        """The valid program with the highest fitness (ties: the earliest added), or None."""
        if self._best_program is None and self._best is not None:
            self._best_program = self._table.program(self._best)
        return self._best_program

    def find_by_code_hash(self, code_hash: str) -> str | None:
        """Id of the first program added with exactly this ``code_hash``, or None."""
        idx = self._table.first_with_code(code_hash)
        return None if idx is None else self._table.ids[idx]

    def find_duplicate(self, code: str) -> str | None:
        """Id of the first program whose code equals ``code`` up to comments and whitespace.

        The controller calls this before evaluating a child; the hash is cached,
        so the ``add`` of the same code does not tokenize it again.
        """
        idx = self._table.first_with_norm(normalized_code_hash(code))
        return None if idx is None else self._table.ids[idx]

    def children_count(self, program_id: str) -> int:
        """Children added with this program among their parents."""
        idx = self._table.index_of(program_id)
        if idx is None:
            raise KeyError(f"no program {program_id!r} in the database")
        return int(self._table.children[idx])

    def island_member_ids(self, island: int) -> list[str]:
        """Ids of the programs now on ``island``, best first. O(size)."""
        self._check_island(island)
        return [self._table.ids[i] for i in self._islands[island].ranked_indices()]

    def island_members(self, island: int) -> tuple[Program, ...]:
        """Programs now on ``island``, best first (each fetched: O(size) lookups)."""
        self._check_island(island)
        return tuple(self._table.program(i) for i in self._islands[island].ranked_indices())

    def migrant_ids(self, island: int) -> list[str]:
        """Ids of the members of ``island`` that arrived by migration or re-seeding."""
        self._check_island(island)
        return [self._table.ids[i] for i in self._islands[island].migrant_indices()]

    def cell_of(self, program_id: str) -> Cell:
        """The program's MAP-Elites cell (``binning.UNKNOWN_CELL`` where a feature is missing)."""
        idx = self._table.index_of(program_id)
        if idx is None:
            raise KeyError(f"no program {program_id!r} in the database")
        return self._table.cell(idx)

    def cell_elites(self, island: int) -> dict[Cell, str]:
        """Each occupied MAP-Elites cell of ``island`` and its elite's id."""
        self._check_island(island)
        return {c: self._table.ids[i] for c, i in self._islands[island].cells().items()}

    def archive_ids(self) -> list[str]:
        """Ids of the archive's members, in the order they entered."""
        return [self._table.ids[i] for i in self._archive.members()]

    def islands_summary(self) -> tuple[IslandSummary, ...]:
        """Size, validity, migrants, generation, best and cells of each island."""
        return self._world.summary()

    # ----- checkpointing -------------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        """The database's state as plain JSON values (see ``evolve.database.snapshot``)."""
        return snapshots.dump(
            self.config,
            self._table,
            self._islands,
            self._archive,
            self._rng,
            self._cursor,
            self._best,
        )

    def take_journal(self) -> list[dict[str, Any]] | None:
        """The changes since the last call, as JSON entries (see ``evolve.database.journal``).

        None on the first call: nothing was journalled before it, so the caller
        must take a full ``snapshot`` now (before any other call) and replay
        later entries on it. O(entries): this is what makes a checkpoint
        incremental.
        """
        if self._journal is None:
            self._journal = journals.Journal(self._rng)
            return None
        return self._journal.take()

    def position(self) -> dict[str, Any]:
        """What ``sample`` changes between journalled calls: the generator and the
        round-robin cursor (a replay ends by setting them)."""
        return {"rng": self._rng.bit_generator.state, "cursor": self._cursor}

    @classmethod
    def restore(
        cls,
        config: DatabaseConfig,
        state: Mapping[str, Any],
        programs: Mapping[str, Program] | None = None,
        *,
        program_lookup: Callable[[str], Program] | None = None,
    ) -> PopulationDatabase:
        """Rebuild the database that wrote ``state``.

        ``state`` is a ``snapshot``, or a journalled state (a base snapshot, the
        entries taken after it and the final ``position``): the base is restored
        and each entry's call repeated on it, with the program it names.
        Give ``programs`` (id -> Program, from the run store) to keep programs
        in memory, or ``program_lookup`` to fetch them on demand; the snapshot
        itself carries all the metadata the database needs. With the same
        ``config``, the result returns the same samples and events as the
        original would for the same later calls.
        """
        if isinstance(state.get("base"), str):
            raise ValueError(
                "this is checkpoint.json's reference to the database files, not a database "
                "state: read the checkpoint with RunStore.load_checkpoint(), which resolves it"
            )
        if not journals.is_journalled(state):
            return cls._restore_snapshot(config, state, programs, program_lookup)
        db = cls._restore_snapshot(config, state["base"], programs, program_lookup)
        fetch = program_lookup or _fetch_from(programs or {})
        journals.replay(state["replay"], db._rng, fetch, db.add, db.migrate, db.reset)
        db._rng.bit_generator.state = dict(state["rng"])
        db._cursor = int(state["cursor"])
        return db

    @classmethod
    def _restore_snapshot(
        cls,
        config: DatabaseConfig,
        state: Mapping[str, Any],
        programs: Mapping[str, Program] | None,
        program_lookup: Callable[[str], Program] | None,
    ) -> PopulationDatabase:
        saved = snapshots.load(config, state, programs, program_lookup)
        db = cls.__new__(cls)
        db._setup(config, saved.rng, saved.table)
        db._cursor = saved.cursor
        db._best = saved.best
        db._world.protected = saved.best
        db._world.grow_to(len(saved.islands))  # the islands spawned before the snapshot
        snapshots.restore_places(saved, db._islands, db._archive)
        return db


def _fetch_from(programs: Mapping[str, Program]) -> Callable[[str], Program]:
    def fetch(program_id: str) -> Program:
        if program_id not in programs:
            raise ValueError(
                f"the database journal names program {program_id!r}, missing from the run store"
            )
        return programs[program_id]

    return fetch
