"""Any sequence of add / sample / migrate / reset / snapshot+restore keeps the invariants.

Restores come two ways: from a full snapshot, and from a base snapshot taken
at any earlier point plus the journal taken since (in one piece or in several
takes, as commits take it), replayed; migrations and resets, forced or due,
happen in between.

A model rebuilt only from the returned events must match the islands' real
membership, so the events are a complete record of how islands change. A twin
database that is never restored (and fetches programs through a lookup, where
the main one keeps them in memory) receives the same calls, so every restore
must leave behaviour (samples and events) exactly unchanged.
"""

from __future__ import annotations

import json
from dataclasses import replace

from hypothesis import HealthCheck, assume, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from evolve.database import (
    DatabaseConfig,
    DuplicateCode,
    Event,
    Eviction,
    FeatureDimension,
    IslandReset,
    Migration,
    PopulationDatabase,
    Sample,
)
from evolve.records import Program, Status
from tests.database.builders import make_program

SPEED = FeatureDimension("speed", width=1.0)
FIXED = FeatureDimension("speed", min=0.0, max=4.0, bins=2)


@st.composite
def configs(draw: st.DrawFn) -> DatabaseConfig:
    num_inspirations = draw(st.integers(0, 4))
    archive_inspirations = draw(st.integers(0, min(1, num_inspirations)))
    top = draw(st.one_of(st.none(), st.integers(0, num_inspirations - archive_inspirations)))
    selection = draw(
        st.sampled_from(["rank", "tournament", "uniform", "fitness", "weighted", "mix"])
    )
    return DatabaseConfig(
        num_islands=draw(st.integers(1, 4)),
        migration_interval=draw(st.integers(1, 4)),
        migration_fraction=draw(st.sampled_from([0.0, 0.3, 1.0])),
        max_migrants=draw(st.integers(1, 3)),
        migration_topology=draw(st.sampled_from(["ring", "all", "random"])),
        reset_interval=draw(st.sampled_from([0, 0, 4, 7])),
        selection=selection,  # type: ignore[arg-type]
        selection_mix={"uniform": 0.3, "rank": 0.3, "weighted": 0.4} if selection == "mix" else {},
        selection_window=draw(st.sampled_from([2, 256])),
        exploration_ratio=draw(st.sampled_from([0.0, 0.2, 1.0])),
        num_inspirations=num_inspirations,
        top_inspirations=top,
        archive_inspirations=archive_inspirations,
        max_island_size=draw(st.one_of(st.none(), st.integers(1, 6))),
        feature_dimensions=draw(
            st.sampled_from([(), (SPEED,), (FIXED, FeatureDimension("code_length"))])
        ),
        archive_size=draw(st.integers(0, 4)),
        archive_policy=draw(st.sampled_from(["fitness", "crowding"])),
    )


fitnesses = st.one_of(st.none(), st.integers(-3, 3).map(float))
failures = st.sampled_from([Status.INVALID, Status.TIMEOUT, Status.OOM, Status.ERROR])
codes = st.integers(0, 11).map(lambda k: f"x = {k}\n")  # few codes: duplicates are common
speeds = st.one_of(st.none(), st.integers(0, 6).map(float))  # None: the metric is missing


class DatabaseMachine(RuleBasedStateMachine):
    @initialize(config=configs(), seed=st.integers(0, 2**32), fitness=fitnesses, code=codes)
    def start(self, config: DatabaseConfig, seed: int, fitness: float | None, code: str) -> None:
        self.config = config
        self.programs: dict[str, Program] = {}
        self.db = PopulationDatabase(config, seed)
        self.twin = PopulationDatabase(config, seed, program_lookup=self.programs.__getitem__)
        n = config.num_islands
        self.members: list[set[str]] = [set() for _ in range(n)]
        self.migrants: list[set[str]] = [set() for _ in range(n)]
        self.placed: list[list[str]] = [[] for _ in range(n)]  # since the island's last reset
        self.children_per_island = [0] * n
        self.best_fitness: float | None = None
        self.archive_best: float | None = None
        self.restores = 0
        self.base: dict | None = None  # a snapshot the journal since continues
        self.journal: list[dict] = []  # entries taken since ``base``
        self._add(make_program("p0", fitness, code=code), speed=1.0)

    # ----- rules ---------------------------------------------------------------------

    @rule(
        fitness=fitnesses,
        status=failures,
        code=codes,
        pick=st.integers(0, 4),
        speed=speeds,
    )
    def add_child(
        self, fitness: float | None, status: Status, code: str, pick: int, speed: float | None
    ) -> None:
        island = None if pick >= self.config.num_islands else pick
        sample = self._sample(island)
        child = make_program(
            f"p{len(self.programs)}",
            fitness,
            code=code,
            parents=(sample.parent.id,),
            island=sample.island,
            status=Status.OK if fitness is not None else status,
        )
        self._add(child, speed)

    @rule(fitness=fitnesses, code=codes, speed=speeds)
    def add_another_seed(self, fitness: float | None, code: str, speed: float | None) -> None:
        self._add(make_program(f"p{len(self.programs)}", fitness, code=code), speed)

    @rule(island=st.one_of(st.none(), st.integers(0, 3)))
    def sample(self, island: int | None) -> None:
        if island is not None and island >= self.config.num_islands:
            island = None
        self._sample(island)

    @rule(island=st.integers(0, 3))
    def migrate(self, island: int) -> None:
        assume(island < self.config.num_islands)
        events = self.db.migrate(island)
        assert events == self.twin.migrate(island)
        self._apply_events(events, forced=True)

    @rule()
    def reset(self) -> None:
        events = self.db.reset()
        assert events == self.twin.reset()
        assert all(isinstance(e, IslandReset | DuplicateCode | Eviction) for e in events)
        self._apply_events(events, forced=True)

    @rule()
    def snapshot_and_restore(self) -> None:
        state = json.loads(json.dumps(self.db.snapshot(), allow_nan=False))
        self.restores += 1
        if self.restores % 2:
            self.db = PopulationDatabase.restore(self.config, state, dict(self.programs))
        else:
            lookup = self.programs.__getitem__
            self.db = PopulationDatabase.restore(self.config, state, program_lookup=lookup)
        assert self.db.snapshot() == self.twin.snapshot()
        self.base, self.journal = None, []  # a restored database has no journal yet
        self._sample(None)  # the next sample is the one the twin draws

    @rule()
    def take_base(self) -> None:
        self.db.take_journal()  # the first take starts the journal (None)
        self.base = json.loads(json.dumps(self.db.snapshot(), allow_nan=False))
        self.journal = []

    @precondition(lambda self: self.base is not None)
    @rule()
    def take_journal(self) -> None:
        """What a commit does between bases."""
        entries = self.db.take_journal()
        assert entries is not None
        self.journal += json.loads(json.dumps(entries, allow_nan=False))

    @precondition(lambda self: self.base is not None)
    @rule(in_memory=st.booleans())
    def restore_from_base_and_journal(self, in_memory: bool) -> None:
        self.take_journal()
        state = {"base": self.base, "replay": self.journal, **self.db.position()}
        state = json.loads(json.dumps(state, allow_nan=False))
        if in_memory:
            self.db = PopulationDatabase.restore(self.config, state, dict(self.programs))
        else:
            lookup = self.programs.__getitem__
            self.db = PopulationDatabase.restore(self.config, state, program_lookup=lookup)
        assert self.db.snapshot() == self.twin.snapshot()
        self.base, self.journal = None, []
        self._sample(None)  # the next sample is the one the twin draws

    # ----- invariants ----------------------------------------------------------------

    @invariant()
    def islands_hold_exactly_what_the_events_say(self) -> None:
        summary = self.db.islands_summary()
        for i in range(self.config.num_islands):
            ids = self.db.island_member_ids(i)
            assert len(ids) == len(set(ids)), "a program is twice on one island"
            assert set(ids) == self.members[i]
            assert set(self.db.migrant_ids(i)) == self.migrants[i]
            assert summary[i].generation == self.children_per_island[i]

    @invariant()
    def natives_live_on_their_own_island(self) -> None:
        for i in range(self.config.num_islands):
            for pid in self.members[i] - self.migrants[i]:
                program = self.programs[pid]
                assert not program.parent_ids or program.island == i

    @invariant()
    def no_island_holds_duplicate_code(self) -> None:
        for i in range(self.config.num_islands):
            hashes = [self.programs[pid].code_hash for pid in self.members[i]]
            assert len(hashes) == len(set(hashes))

    @invariant()
    def islands_stay_within_their_bound_and_sorted(self) -> None:
        limit = self.config.max_island_size
        for i in range(self.config.num_islands):
            members = [self.programs[pid] for pid in self.db.island_member_ids(i)]
            assert members, "an island emptied"
            assert limit is None or len(members) <= limit
            # Rank order, checked without sort keys: valid first, by fitness, descending.
            valid = [p.fitness for p in members if p.fitness is not None]
            assert [p.fitness for p in members[: len(valid)]] == sorted(valid, reverse=True)

    @invariant()
    def cells_hold_the_best_program_placed_in_them(self) -> None:
        order = {pid: n for n, pid in enumerate(self.programs)}
        for i in range(self.config.num_islands):
            expected: dict[tuple, str] = {}
            for pid in self.placed[i]:
                program = self.programs[pid]
                if program.fitness is None:
                    continue
                cell = self.db.cell_of(pid)
                holder = expected.get(cell)
                rival = None if holder is None else self.programs[holder]
                if rival is None or (-program.fitness, order[pid]) < (
                    -rival.fitness,  # type: ignore[operator]
                    order[holder],  # type: ignore[index]
                ):
                    expected[cell] = pid
            assert self.db.cell_elites(i) == expected

    @invariant()
    def archive_is_bounded_valid_and_keeps_its_best(self) -> None:
        ids = self.db.archive_ids()
        assert len(ids) <= self.config.archive_size and len(ids) == len(set(ids))
        fitness = [self.programs[pid].fitness for pid in ids]
        assert all(f is not None for f in fitness)
        best = max(fitness, default=None)  # type: ignore[type-var]
        if self.archive_best is not None:
            assert best is not None and best >= self.archive_best, "the archive lost its best"
        self.archive_best = best

    @invariant()
    def best_is_the_earliest_highest_fitness_and_never_drops(self) -> None:
        valid = [p for p in self.programs.values() if p.fitness is not None]
        best = self.db.best()
        if not valid:
            assert best is None
            return
        top = max(p.fitness for p in valid)  # type: ignore[type-var]
        assert best is not None and best.id == next(p for p in valid if p.fitness == top).id
        assert self.best_fitness is None or best.fitness >= self.best_fitness  # type: ignore[operator]
        self.best_fitness = best.fitness
        assert len(self.db) == len(self.programs)

    # ----- helpers -------------------------------------------------------------------

    def _sample(self, island: int | None) -> Sample:
        sample = self.db.sample(island)
        twin = self.twin.sample(island)
        assert _signature(sample) == _signature(twin)
        members = self.members[sample.island]
        ids = [p.id for p in sample.inspirations]
        assert sample.parent.id in members
        allowed = members | set(self.db.cell_elites(sample.island).values())
        allowed |= set(self.db.archive_ids())
        assert set(ids) <= allowed
        assert sample.parent.id not in ids and len(ids) == len(set(ids))
        assert len(ids) <= self.config.num_inspirations
        if any(self.programs[pid].fitness is not None for pid in members):
            assert sample.parent.fitness is not None
            assert all(p.fitness is not None for p in sample.inspirations)
        return sample

    def _add(self, program: Program, speed: float | None) -> None:
        if speed is not None:
            program = replace(program, metrics={"speed": speed})
        best_before = [self._island_best(i) for i in range(self.config.num_islands)]
        self.programs[program.id] = program
        events = self.db.add(program)
        assert events == self.twin.add(program)
        skipped = {
            e.island for e in events if isinstance(e, DuplicateCode) and e.program_id == program.id
        }
        homes = range(self.config.num_islands) if not program.parent_ids else [program.island]
        for i in homes:
            if i not in skipped:
                self.members[i].add(program.id)
                self.placed[i].append(program.id)
        if program.parent_ids:
            self.children_per_island[program.island] += 1
        self._apply_events(events, forced=False, program=program)
        if not any(isinstance(e, IslandReset) for e in events):
            for i, before in enumerate(best_before):
                after = self._island_best(i)
                assert before is None or (after is not None and after >= before), "island best lost"

    def _apply_events(
        self, events: list[Event], forced: bool, program: Program | None = None
    ) -> None:
        """Update the model from the events only."""
        n = self.config.num_islands
        for event in events:
            if isinstance(event, Migration):
                source, target = event.source_island, event.target_island
                if not forced:
                    assert program is not None and program.parent_ids
                    assert source == program.island
                    assert event.at_generation % self.config.migration_interval == 0
                assert event.at_generation == self.children_per_island[source]
                if self.config.migration_topology == "ring":
                    assert target == (source + 1) % n
                assert target != source
                assert event.program_id in self.members[source]
                assert event.program_id not in self.migrants[source]
                assert self.programs[event.program_id].fitness is not None
                self.members[target].add(event.program_id)
                self.migrants[target].add(event.program_id)
                self.placed[target].append(event.program_id)
            elif isinstance(event, Eviction):
                self.members[event.island].discard(event.program_id)
                self.migrants[event.island].discard(event.program_id)
            elif isinstance(event, IslandReset):
                assert event.founder_id in self.members[event.source_island]
                assert event.at_programs == len(self.programs)
                self.members[event.island] = {event.founder_id}
                self.migrants[event.island] = {event.founder_id}
                self.placed[event.island] = [event.founder_id]
            else:
                assert program is not None and event.program_id == program.id

    def _island_best(self, island: int) -> float | None:
        """Highest fitness on the island (None when it has no valid program)."""
        return max(
            (
                self.programs[pid].fitness
                for pid in self.db.island_member_ids(island)
                if self.programs[pid].fitness is not None
            ),
            default=None,
        )


def _signature(sample: Sample) -> tuple:
    return (sample.island, sample.parent.id, tuple(p.id for p in sample.inspirations))


DatabaseMachine.TestCase.settings = settings(
    max_examples=250,
    stateful_step_count=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
TestDatabaseMachine = DatabaseMachine.TestCase
