"""Any sequence of add / sample / snapshot+restore keeps the database's invariants.

A model rebuilt only from the returned events must match the islands' real
membership, so the events are a complete record of how islands change. A twin
database that is never restored receives the same calls, so every restore must
leave behaviour (samples and events) exactly unchanged.
"""

from __future__ import annotations

import json

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from evolve.database import (
    DatabaseConfig,
    DuplicateCode,
    Event,
    Eviction,
    Migration,
    PopulationDatabase,
    Sample,
)
from evolve.records import Program, Status
from tests.database.builders import make_program

configs = st.builds(
    DatabaseConfig,
    num_islands=st.integers(1, 4),
    migration_interval=st.integers(1, 4),
    migration_fraction=st.sampled_from([0.0, 0.3, 1.0]),
    selection=st.sampled_from(["rank", "tournament", "uniform"]),
    exploration_ratio=st.sampled_from([0.0, 0.2, 1.0]),
    num_inspirations=st.integers(0, 4),
    max_island_size=st.one_of(st.none(), st.integers(1, 6)),
)
fitnesses = st.one_of(st.none(), st.integers(-3, 3).map(float))
failures = st.sampled_from([Status.INVALID, Status.TIMEOUT, Status.OOM, Status.ERROR])
codes = st.integers(0, 11).map(lambda k: f"x = {k}\n")  # few codes: duplicates are common


class DatabaseMachine(RuleBasedStateMachine):
    @initialize(config=configs, seed=st.integers(0, 2**32), fitness=fitnesses, code=codes)
    def start(self, config: DatabaseConfig, seed: int, fitness: float | None, code: str) -> None:
        self.config = config
        self.db = PopulationDatabase(config, seed)
        self.twin = PopulationDatabase(config, seed)
        self.programs: dict[str, Program] = {}
        self.members: list[set[str]] = [set() for _ in range(config.num_islands)]
        self.migrants: list[set[str]] = [set() for _ in range(config.num_islands)]
        self.children_per_island = [0] * config.num_islands
        self.best_fitness: float | None = None
        self._add(make_program("p0", fitness, code=code))

    # ----- rules ---------------------------------------------------------------------

    @rule(fitness=fitnesses, status=failures, code=codes, pick=st.integers(0, 4))
    def add_child(self, fitness: float | None, status: Status, code: str, pick: int) -> None:
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
        self._add(child)

    @rule(fitness=fitnesses, code=codes)
    def add_another_seed(self, fitness: float | None, code: str) -> None:
        self._add(make_program(f"p{len(self.programs)}", fitness, code=code))

    @rule(island=st.one_of(st.none(), st.integers(0, 3)))
    def sample(self, island: int | None) -> None:
        if island is not None and island >= self.config.num_islands:
            island = None
        self._sample(island)

    @rule()
    def snapshot_and_restore(self) -> None:
        state = json.loads(json.dumps(self.db.snapshot()))
        self.db = PopulationDatabase.restore(self.config, state, dict(self.programs))
        assert self.db.snapshot() == self.twin.snapshot()

    # ----- invariants ----------------------------------------------------------------

    @invariant()
    def islands_hold_exactly_what_the_events_say(self) -> None:
        for i in range(self.config.num_islands):
            assert {p.id for p in self.db.island_members(i)} == self.members[i]
        state = self.db.snapshot()
        for i, island in enumerate(state["islands"]):
            assert set(island["migrants"]) == self.migrants[i]
            assert island["generation"] == self.children_per_island[i]

    @invariant()
    def members_belong_where_they_are(self) -> None:
        n = self.config.num_islands
        for i in range(n):
            for pid in self.members[i]:
                program = self.programs[pid]
                if not program.parent_ids:
                    continue  # seeds start on every island
                home = i if pid not in self.migrants[i] else (i - 1) % n
                assert program.island == home

    @invariant()
    def no_island_holds_duplicate_code(self) -> None:
        for i in range(self.config.num_islands):
            hashes = [p.code_hash for p in self.db.island_members(i)]
            assert len(hashes) == len(set(hashes))

    @invariant()
    def islands_stay_within_their_bound_and_sorted(self) -> None:
        limit = self.config.max_island_size
        for i in range(self.config.num_islands):
            members = self.db.island_members(i)
            assert members, "an island emptied"
            assert limit is None or len(members) <= limit
            # Rank order, checked without rank_key: valid first, by fitness, descending.
            valid = [p.fitness for p in members if p.fitness is not None]
            assert [p.fitness for p in members[: len(valid)]] == sorted(valid, reverse=True)

    @invariant()
    def best_is_the_earliest_highest_fitness_and_never_drops(self) -> None:
        valid = [p for p in self.programs.values() if p.fitness is not None]
        best = self.db.best()
        if not valid:
            assert best is None
            return
        top = max(p.fitness for p in valid)
        assert best is next(p for p in valid if p.fitness == top)  # programs is in added order
        assert self.best_fitness is None or best.fitness >= self.best_fitness
        self.best_fitness = best.fitness
        assert len(self.db) == len(self.programs)

    # ----- helpers -------------------------------------------------------------------

    def _sample(self, island: int | None) -> Sample:
        sample = self.db.sample(island)
        twin = self.twin.sample(island)
        assert _signature(sample) == _signature(twin)
        members = self.members[sample.island]
        ids = [p.id for p in sample.inspirations]
        assert sample.parent.id in members and set(ids) <= members
        assert sample.parent.id not in ids and len(ids) == len(set(ids))
        assert len(ids) <= self.config.num_inspirations
        if any(self.programs[pid].fitness is not None for pid in members):
            assert sample.parent.fitness is not None
            assert all(p.fitness is not None for p in sample.inspirations)
        return sample

    def _add(self, program: Program) -> None:
        best_before = [self._island_best(i) for i in range(self.config.num_islands)]
        self.programs[program.id] = program
        events = self.db.add(program)
        assert events == self.twin.add(program)
        self._apply(program, events)
        for i, before in enumerate(best_before):
            after = self._island_best(i)
            assert before is None or (after is not None and after >= before), "island best lost"

    def _island_best(self, island: int) -> float | None:
        """Highest fitness on the island (None when it has no valid program)."""
        return max(
            (p.fitness for p in self.db.island_members(island) if p.fitness is not None),
            default=None,
        )

    def _apply(self, program: Program, events: list[Event]) -> None:
        """Update the model from the events only (plus where ``add`` promises to place)."""
        n = self.config.num_islands
        skipped = {e.island for e in events if isinstance(e, DuplicateCode)}
        homes = range(n) if not program.parent_ids else [program.island]
        for i in homes:
            if i not in skipped:
                self.members[i].add(program.id)
        if program.parent_ids:
            self.children_per_island[program.island] += 1
        for event in events:
            if isinstance(event, Migration):
                assert event.source_island == program.island and program.parent_ids
                assert event.target_island == (event.source_island + 1) % n
                assert event.at_generation == self.children_per_island[event.source_island]
                assert event.at_generation % self.config.migration_interval == 0
                assert event.program_id in self.members[event.source_island]
                assert event.program_id not in self.migrants[event.source_island]
                assert self.programs[event.program_id].fitness is not None
                self.members[event.target_island].add(event.program_id)
                self.migrants[event.target_island].add(event.program_id)
            elif isinstance(event, Eviction):
                self.members[event.island].discard(event.program_id)
                self.migrants[event.island].discard(event.program_id)
            else:
                assert event.program_id == program.id


def _signature(sample: Sample) -> tuple:
    return (sample.island, sample.parent.id, tuple(p.id for p in sample.inspirations))


DatabaseMachine.TestCase.settings = settings(
    max_examples=300,
    stateful_step_count=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestDatabaseMachine = DatabaseMachine.TestCase
