"""The population database: the one object the controller asks for parents.

A thin facade. It owns the programs, the islands, the seeded generator and the
counters; the policies live beside it (``selection``, ``inspirations``,
``migration``), so a new strategy never grows this file.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from evolve.database.config import DatabaseConfig
from evolve.database.events import DuplicateCode, Event, Eviction, Migration
from evolve.database.inspirations import choose_inspirations
from evolve.database.islands import Island, RankKey, rank_key
from evolve.database.migration import choose_migrants, ring_target
from evolve.database.selection import make_selector
from evolve.records import Program

__all__ = [
    "SNAPSHOT_FORMAT",
    "EmptyDatabaseError",
    "IslandSummary",
    "PopulationDatabase",
    "Sample",
]

SNAPSHOT_FORMAT = 1


class EmptyDatabaseError(LookupError):
    """``sample`` was called before any program was added."""


@dataclass(frozen=True)
class Sample:
    """A parent and its inspirations, all members of ``island``.

    The child proposed from this sample belongs to ``island``: set
    ``child.island = sample.island`` (not ``parent.island``, which differs when
    the parent is a migrant).
    """

    island: int
    parent: Program
    inspirations: tuple[Program, ...]


@dataclass(frozen=True)
class IslandSummary:
    island: int
    size: int
    num_valid: int
    num_migrants: int
    generation: int
    best_id: str | None
    best_fitness: float | None


class PopulationDatabase:
    """Programs on a ring of islands, with parent sampling and migration.

    *Island generation*: the number of children (programs with ``parent_ids``)
    whose ``add`` targeted the island, counting those not placed because their
    code was already there. Seeds and arriving migrants do not advance it.
    Each time an island's generation reaches a multiple of
    ``migration_interval``, its best natives migrate to the next island.

    Programs are treated as immutable once added: their rank is fixed at ``add``.
    Every program added stays retrievable (``get``, ``best``,
    ``find_by_code_hash``) even after it is evicted from its islands.
    """

    def __init__(self, config: DatabaseConfig, seed: int) -> None:
        self.config = config
        self._rng = np.random.default_rng(seed)
        self._selector = make_selector(config)
        self._islands = [Island(i) for i in range(config.num_islands)]
        self._programs: dict[str, Program] = {}  # insertion order is the rank tie-break
        self._keys: dict[str, RankKey] = {}
        self._by_code: dict[str, str] = {}  # code_hash -> first program id with it
        self._best: Program | None = None
        self._cursor = 0  # next island of round-robin sampling

    # ----- adding --------------------------------------------------------------------

    def add(self, program: Program) -> list[Event]:
        """Store ``program`` and place it on its island(s); return what else happened.

        A seed (no ``parent_ids``) goes on every island; a child goes on
        ``program.island`` only, which the caller sets from ``Sample.island``.
        A program whose code an island already holds is stored but not placed
        there (``DuplicateCode``). Programs without a fitness rank below every
        valid one. Cost: O(log n + n memmove) per placement; a migration adds
        O(migration_fraction * island size), the one O(n) step of ``add``.
        """
        if program.id in self._programs:
            raise ValueError(f"program {program.id} was already added to the database")
        if program.fitness is not None and math.isnan(program.fitness):
            raise ValueError(f"program {program.id} has a NaN fitness; use None for no fitness")
        if program.parent_ids and not 0 <= program.island < len(self._islands):
            raise ValueError(
                f"program {program.id} names island {program.island}, but the database "
                f"has islands 0..{len(self._islands) - 1}; set it from Sample.island"
            )
        self._register(program)
        events: list[Event] = []
        if not program.parent_ids:
            for island in self._islands:
                self._place(island, program, events, migrant=False)
            return events
        island = self._islands[program.island]
        self._place(island, program, events, migrant=False)
        island.generation += 1
        if len(self._islands) > 1 and island.generation % self.config.migration_interval == 0:
            self._migrate(island, events)
        return events

    def _register(self, program: Program) -> None:
        self._keys[program.id] = rank_key(program, len(self._programs))
        self._programs[program.id] = program
        self._by_code.setdefault(program.code_hash, program.id)
        if program.fitness is not None and (
            self._best is None or program.fitness > self._best.fitness  # type: ignore[operator]
        ):
            self._best = program

    def _place(self, island: Island, program: Program, events: list[Event], migrant: bool) -> None:
        holder = island.holder_of(program.code_hash)
        if holder is not None:
            events.append(DuplicateCode(island.index, program.id, holder))
            return
        island.place(program, self._keys[program.id], migrant=migrant)
        limit = self.config.max_island_size
        # The weakest of two or more members is never the best, so the best stays.
        while limit is not None and len(island) > limit:
            weakest = island.weakest_id()
            island.remove(weakest)
            events.append(Eviction(island.index, weakest))

    def _migrate(self, source: Island, events: list[Event]) -> None:
        target = self._islands[ring_target(source.index, len(self._islands))]
        for pid in choose_migrants(source, target, self.config.migration_fraction):
            events.append(Migration(source.index, target.index, pid, source.generation))
            self._place(target, self._programs[pid], events, migrant=True)

    # ----- sampling ------------------------------------------------------------------

    def sample(self, island: int | None = None) -> Sample:
        """A parent and inspirations from ``island``, or from the next island in turn.

        Parents and inspirations come from the island's valid programs, or, when
        it has none, from its invalid ones, best failures first (so a repair can
        be proposed from their errors). An empty island falls back to the next
        non-empty one in the ring. Expected O(num_inspirations) per call.
        """
        if not self._programs:
            raise EmptyDatabaseError(
                "the database is empty: add the seed program (no parent_ids) before sampling"
            )
        if island is None:
            start = self._cursor
            self._cursor = (start + 1) % len(self._islands)
        else:
            self._check_island(island)
            start = island
        chosen = self._first_non_empty(start)
        pool = chosen.num_valid or len(chosen)
        parent_id = chosen.id_at(self._selector.select(pool, self._rng))
        ids = choose_inspirations(chosen, parent_id, self.config.num_inspirations, self._rng)
        return Sample(
            island=chosen.index,
            parent=self._programs[parent_id],
            inspirations=tuple(self._programs[pid] for pid in ids),
        )

    def _first_non_empty(self, start: int) -> Island:
        n = len(self._islands)
        for step in range(n):
            island = self._islands[(start + step) % n]
            if len(island):
                return island
        raise EmptyDatabaseError("every island is empty although programs were added")

    def _check_island(self, island: int) -> None:
        if not 0 <= island < len(self._islands):
            last = len(self._islands) - 1
            raise ValueError(f"island {island} does not exist; islands are 0..{last}")

    # ----- queries -------------------------------------------------------------------

    def __len__(self) -> int:
        """Number of programs ever added (evicted ones included)."""
        return len(self._programs)

    def __contains__(self, program_id: object) -> bool:
        return program_id in self._programs

    @property
    def num_islands(self) -> int:
        return len(self._islands)

    def get(self, program_id: str) -> Program:
        """The program with this id; ``KeyError`` if it was never added."""
        try:
            return self._programs[program_id]
        except KeyError:
            raise KeyError(f"no program {program_id!r} in the database") from None

    def best(self) -> Program | None:
        """The valid program with the highest fitness (ties: the earliest added), or None."""
        return self._best

    def find_by_code_hash(self, code_hash: str) -> str | None:
        """Id of the first program added with this ``code_hash``, or None."""
        return self._by_code.get(code_hash)

    def island_members(self, island: int) -> tuple[Program, ...]:
        """Programs now on ``island``, best first. O(size)."""
        self._check_island(island)
        return tuple(self._programs[pid] for pid in self._islands[island].ranked_ids())

    def islands_summary(self) -> tuple[IslandSummary, ...]:
        """Size, best and generation of each island. O(number of islands)."""
        out = []
        for island in self._islands:
            best_id = island.best_id()
            best = self._programs[best_id] if best_id is not None else None
            out.append(
                IslandSummary(
                    island=island.index,
                    size=len(island),
                    num_valid=island.num_valid,
                    num_migrants=island.num_migrants,
                    generation=island.generation,
                    best_id=best_id,
                    best_fitness=best.fitness if best is not None else None,
                )
            )
        return tuple(out)

    # ----- checkpointing -------------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        """The database's state as plain JSON values; programs appear by id only.

        O(total programs + island memberships); meant for checkpoints, not for
        every iteration.
        """
        return {
            "format": SNAPSHOT_FORMAT,
            "num_islands": len(self._islands),
            "rng": self._rng.bit_generator.state,
            "cursor": self._cursor,
            "programs": list(self._programs),
            "islands": [
                {
                    "generation": island.generation,
                    "members": list(island.ranked_ids()),
                    "migrants": island.migrant_ids(),
                }
                for island in self._islands
            ],
        }

    @classmethod
    def restore(
        cls, config: DatabaseConfig, state: Mapping[str, Any], programs: Mapping[str, Program]
    ) -> PopulationDatabase:
        """Rebuild the database that wrote ``state``; ``programs`` come from the run store.

        With the same ``config``, the result returns the same samples and events
        as the original would for the same later calls. ``config`` may change
        policies (selection, inspirations, ...), but not ``num_islands``.
        """
        if state.get("format") != SNAPSHOT_FORMAT:
            raise ValueError(
                f"database snapshot format {state.get('format')!r} is not supported "
                f"(this version reads format {SNAPSHOT_FORMAT})"
            )
        if state["num_islands"] != config.num_islands:
            raise ValueError(
                f"the snapshot has {state['num_islands']} islands but the config asks for "
                f"{config.num_islands}; resume with num_islands = {state['num_islands']}"
            )
        db = cls(config, seed=0)
        db._rng.bit_generator.state = dict(state["rng"])
        for pid in state["programs"]:
            if pid not in programs:
                raise ValueError(f"the snapshot names program {pid!r}, missing from the run store")
            db._register(programs[pid])
        for island, saved in zip(db._islands, state["islands"], strict=True):
            migrants = set(saved["migrants"])
            for pid in saved["members"]:  # best first, so each insort appends
                island.place(db._programs[pid], db._keys[pid], migrant=pid in migrants)
            island.generation = saved["generation"]
        db._cursor = state["cursor"]
        return db
