"""Island stagnation: an island none of whose last ``stagnation_window`` children
beat its record is re-seeded from a strictly better island, or spawns a new
island founded by the run's best, and the events say so in order. The run's
best is never lost, spawned islands survive snapshots and journal replays, and
the same seed makes the same decisions."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import replace

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from evolve.config import load_problem
from evolve.config.strict import from_mapping
from evolve.database import (
    DatabaseConfig,
    Event,
    IslandReseeded,
    IslandSpawned,
    IslandStagnated,
    Migration,
    PopulationDatabase,
)
from evolve.database.stagnation import NO_RECORD, Response, improves, respond
from evolve.errors import ConfigError
from evolve.records import EventKind, Program, Status
from tests.database.builders import child_of, make_program
from tests.problem_factory import TOML, write_problem

# Migration out of the way unless a test asks for it: stagnation alone decides.
QUIET = {"migration_interval": 1000}


def _db(seed: int = 1, **overrides: object) -> PopulationDatabase:
    config = DatabaseConfig(**{**QUIET, **overrides})  # type: ignore[arg-type]
    return PopulationDatabase(config, seed=seed)


class Feeder:
    """Adds numbered children of the seed (each with its own code) and keeps them."""

    def __init__(self, db: PopulationDatabase, seed_fitness: float | None = 1.0) -> None:
        self.db = db
        self.seed = make_program("seed", seed_fitness)
        self.programs: dict[str, Program] = {"seed": self.seed}
        self.count = 0
        db.add(self.seed)

    @classmethod
    def following(cls, other: Feeder, db: PopulationDatabase) -> Feeder:
        """A feeder for ``db`` (restored from ``other``'s) that goes on where ``other`` is."""
        twin = cls.__new__(cls)
        twin.db, twin.seed, twin.count = db, other.seed, other.count
        twin.programs = dict(other.programs)
        return twin

    def child(self, island: int, fitness: float | None, **kw: object) -> list[Event]:
        self.count += 1
        program = child_of(self.seed, f"c{self.count}", fitness, island=island, **kw)
        self.programs[program.id] = program
        return self.db.add(program)

    def stall(self, island: int, times: int, fitness: float | None = 0.5) -> list[Event]:
        """``times`` children that do not beat the island's record; their events."""
        events: list[Event] = []
        for _ in range(times):
            events += self.child(island, fitness)
        return events


# ----- the decision functions -------------------------------------------------------


def test_improves_needs_a_valid_fitness_strictly_above_the_record() -> None:
    assert improves(NO_RECORD, -1e300)
    assert improves(1.0, 1.5)
    assert not improves(1.0, 1.0)  # a tie is no improvement
    assert not improves(1.0, 0.5)
    assert not improves(NO_RECORD, None)  # an invalid child never improves


def test_respond_spawns_whenever_it_can_even_for_the_island_holding_the_best() -> None:
    rng = np.random.default_rng(0)
    assert respond(0, [5.0, 1.0], [3, 3], True, True, rng) == Response("spawn")
    assert respond(1, [5.0, 1.0], [3, 3], False, True, rng) == Response("spawn")


def test_respond_leaves_the_island_holding_the_best_alone() -> None:
    rng = np.random.default_rng(0)
    assert respond(0, [1.0, 5.0], [3, 3], True, False, rng) == Response("none")


def test_respond_reseeds_only_from_a_strictly_better_non_empty_island() -> None:
    rng = np.random.default_rng(0)
    before = dict(rng.bit_generator.state)
    assert respond(0, [1.0, 1.0, None], [3, 3, 2], False, False, rng) == Response("none")
    assert respond(0, [1.0, 9.0, 2.0], [3, 0, 2], False, False, rng) == Response("reseed", 2)
    assert respond(2, [None, None, None], [1, 1, 1], False, False, rng) == Response("none")
    assert respond(0, [None, 0.0], [1, 1], False, False, rng) == Response("reseed", 1)
    assert dict(rng.bit_generator.state) == before  # one candidate or none: no draw


def test_respond_draws_among_several_better_islands_replayably() -> None:
    picks = set()
    for seed in range(40):
        rng = np.random.default_rng(seed)
        response = respond(1, [3.0, 1.0, 2.0, 0.5], [2, 2, 2, 2], False, False, rng)
        again = respond(1, [3.0, 1.0, 2.0, 0.5], [2] * 4, False, False, np.random.default_rng(seed))
        assert response == again and response.action == "reseed"
        picks.add(response.source)
    assert picks == {0, 2}  # both better islands, never the worse one


# ----- reseeding ----------------------------------------------------------------------


def test_a_stuck_island_is_reseeded_from_a_better_island_with_the_events_in_order() -> None:
    db = _db(num_islands=2, stagnation_window=3)
    feed = Feeder(db)
    assert feed.child(1, 5.0) == []  # c1: island 1 is now strictly better
    assert feed.stall(0, 2) == []
    events = feed.child(0, 0.5)
    assert events == [
        IslandStagnated(island=0, children=3, record=1.0, action="reseed", at_programs=5),
        IslandReseeded(island=0, source_island=1, founder_id="c1", at_programs=5),
    ]
    assert db.island_member_ids(0) == ["c1"]
    assert db.migrant_ids(0) == ["c1"]  # the founder is a migrant there: it never migrates on
    assert db.island_member_ids(1) == ["c1", "seed"]  # the source keeps its best
    assert db.islands_summary()[0].generation == 3  # re-seeding does not count as a child


def test_the_founder_sets_the_record_and_the_count_starts_again() -> None:
    db = _db(num_islands=2, stagnation_window=3)
    feed = Feeder(db)
    feed.child(1, 5.0)
    feed.stall(0, 3)  # reseeded from c1 (5.0)
    # 4.0 beats the old record (1.0) but not the founder's: still no improvement.
    assert feed.stall(0, 2, fitness=4.0) == []
    events = feed.child(0, 4.0)
    assert [type(e) for e in events] == [IslandStagnated]
    assert events[0] == IslandStagnated(0, 3, 5.0, "none", len(db))  # holds the best now


def test_a_child_that_beats_the_record_resets_the_count() -> None:
    db = _db(num_islands=2, stagnation_window=3)
    feed = Feeder(db)
    feed.child(1, 5.0)
    assert feed.stall(0, 2) == []
    assert feed.child(0, 2.0) == []  # beats 1.0: the count starts again
    assert feed.stall(0, 2) == []
    assert [type(e) for e in feed.child(0, 0.5)] == [IslandStagnated, IslandReseeded]


def test_invalid_and_duplicate_children_count_as_no_improvement() -> None:
    db = _db(num_islands=2, stagnation_window=3)
    feed = Feeder(db)
    feed.child(1, 5.0)
    assert feed.child(0, None, status=Status.ERROR) == []
    # Code the island already holds is not placed, so it cannot raise the record.
    # (3.0 beats island 0's record, 1.0, and stays below the run's best, c1.)
    assert [type(e).__name__ for e in feed.child(0, 3.0, code=feed.seed.code)] == ["DuplicateCode"]
    events = feed.child(0, 0.5)
    assert [type(e) for e in events] == [IslandStagnated, IslandReseeded]


def test_migrants_raise_the_record_without_counting_as_children() -> None:
    db = _db(num_islands=2, stagnation_window=2, migration_interval=1)
    feed = Feeder(db)
    events = feed.child(1, 5.0)  # c1 migrates to island 0 and raises its record
    assert events == [Migration(1, 0, "c1", 1)]
    assert db.islands_summary()[0].generation == 0
    events = [e for e in feed.stall(0, 2, fitness=4.0) if not isinstance(e, Migration)]
    # 4.0 beats the seed but not the migrant; island 0 holds the best (c1): left alone.
    assert events == [IslandStagnated(0, 2, 5.0, "none", len(db))]


def test_an_island_holding_the_runs_best_is_never_reseeded() -> None:
    db = _db(num_islands=3, stagnation_window=2)
    feed = Feeder(db)
    feed.child(0, 9.0)  # the run's best, on island 0 only
    feed.child(1, 3.0)
    for _ in range(5):
        events = feed.stall(0, 2)
        assert events == [IslandStagnated(0, 2, 9.0, "none", len(db))]
    assert db.island_member_ids(0)[0] == "c1"
    best = db.best()
    assert best is not None and best.id == "c1"


def test_an_island_no_island_beats_is_left_alone() -> None:
    db = _db(num_islands=2, stagnation_window=2)
    feed = Feeder(db)
    feed.child(1, 2.0)  # c1: the run's best, on island 1
    feed.child(0, 2.0)  # c2: as good, not the best (a later tie), on island 0
    assert feed.stall(0, 2) == [IslandStagnated(0, 2, 2.0, "none", 5)]
    assert db.island_member_ids(0) == ["c2", "seed", "c3", "c4"]


def test_an_island_that_never_held_a_valid_program_reports_no_record() -> None:
    db = _db(num_islands=1, stagnation_window=2)
    feed = Feeder(db, seed_fitness=None)
    events = feed.stall(0, 2, fitness=None)
    assert events == [IslandStagnated(0, 2, None, "none", 3)]
    payload = dataclasses.asdict(events[0])  # what the recorder writes to the store
    assert json.loads(json.dumps(payload, allow_nan=False)) == payload


def test_stagnation_is_off_by_default() -> None:
    db = _db(num_islands=2)
    feed = Feeder(db)
    feed.child(1, 5.0)
    assert feed.stall(0, 200) == []


def test_the_event_kinds_are_the_stored_strings() -> None:
    assert IslandStagnated.KIND == EventKind.ISLAND_STAGNATED == "islandstagnated"
    assert IslandReseeded.KIND == EventKind.ISLAND_RESEEDED == "islandreseeded"
    assert IslandSpawned.KIND == EventKind.ISLAND_SPAWNED == "islandspawned"


# ----- spawning -----------------------------------------------------------------------


def _spawning(**overrides: object) -> PopulationDatabase:
    settings_ = {"num_islands": 2, "stagnation_window": 2, "stagnation_action": "spawn"}
    return _db(**{**settings_, **overrides})


def test_spawn_adds_islands_founded_by_the_best_up_to_the_cap_then_reseeds() -> None:
    db = _spawning(max_islands=3)
    feed = Feeder(db)
    feed.child(1, 5.0)  # c1: the run's best
    events = feed.stall(0, 2)
    assert events == [
        IslandStagnated(0, 2, 1.0, "spawn", 4),
        IslandSpawned(island=2, stagnant_island=0, founder_id="c1", at_programs=4),
    ]
    assert db.num_islands == 3
    assert db.island_member_ids(2) == ["c1"] and db.migrant_ids(2) == ["c1"]
    assert db.island_member_ids(0) == ["seed", "c2", "c3"]  # the stagnant island goes on as it was
    assert db.islands_summary()[2].generation == 0
    # At the cap, a stagnant island is reseeded instead.
    events = feed.stall(0, 2)
    assert events == [
        IslandStagnated(0, 2, 1.0, "reseed", 6),
        IslandReseeded(0, events[1].source_island, "c1", 6),  # type: ignore[union-attr]
    ]
    assert events[1].source_island in (1, 2)  # type: ignore[union-attr]
    assert db.num_islands == 3


def test_the_default_cap_is_twice_num_islands() -> None:
    assert DatabaseConfig(num_islands=3, stagnation_window=5).island_cap == 3  # reseed
    assert DatabaseConfig(num_islands=3, stagnation_action="spawn").island_cap == 3  # off
    spawn = DatabaseConfig(num_islands=3, stagnation_window=5, stagnation_action="spawn")
    assert spawn.island_cap == 6
    db = _spawning(num_islands=1)
    feed = Feeder(db)
    feed.stall(0, 2)
    assert db.num_islands == 2
    feed.stall(0, 2)
    assert db.num_islands == 2


def test_a_spawned_island_is_sampled_migrated_to_and_takes_children() -> None:
    db = _spawning(max_islands=3, migration_interval=1, migration_fraction=1.0)
    feed = Feeder(db)
    feed.stall(0, 2)  # spawns island 2 (founded by the seed)
    assert db.num_islands == 3
    assert [db.sample().island for _ in range(6)] == [0, 1, 2, 0, 1, 2]
    # Ring topology over the live count: island 1 now sends to island 2, which sends to 0.
    assert Migration(1, 2, "c3", 1) in feed.child(1, 7.0)
    assert Migration(2, 0, "c4", 1) in feed.child(2, 8.0)
    with pytest.raises(ValueError, match=r"islands 0\.\.2"):
        db.add(child_of(feed.seed, "far", 1.0, island=3))


# ----- replay and persistence ---------------------------------------------------------


def _scripted(seed: int, config: DatabaseConfig) -> tuple[Feeder, list[list[Event]]]:
    """A fixed sequence of children, each island stuck at its own level (higher
    islands better), so a stagnant island has several better ones to choose among."""
    feed = Feeder(PopulationDatabase(config, seed=seed))
    seen = []
    for step in range(120):
        island = (step * 7) % feed.db.num_islands
        fitness = None if step % 9 == 0 else float(island % 4 + step % 2)
        seen.append(feed.child(island, fitness))
    return feed, seen


@pytest.mark.parametrize("action", ["reseed", "spawn"])
def test_the_same_seed_makes_the_same_decisions(action: str) -> None:
    config = DatabaseConfig(
        num_islands=4,
        stagnation_window=3,
        stagnation_action=action,  # type: ignore[arg-type]
        migration_interval=5,
    )
    first, seen = _scripted(7, config)
    second, again = _scripted(7, config)
    assert seen == again
    assert first.db.snapshot() == second.db.snapshot()
    kinds = {type(e) for events in seen for e in events}
    assert IslandStagnated in kinds
    assert (IslandSpawned if action == "spawn" else IslandReseeded) in kinds
    if action == "reseed":  # the choice among better islands is the generator's
        _, other = _scripted(8, config)
        assert _sources(seen) != _sources(other)


def _sources(seen: list[list[Event]]) -> list[int]:
    return [e.source_island for events in seen for e in events if isinstance(e, IslandReseeded)]


def _roundtrip(value: object) -> dict:
    loaded = json.loads(json.dumps(value, allow_nan=False))
    assert isinstance(loaded, dict)
    return loaded


SPAWN = DatabaseConfig(
    num_islands=2,
    stagnation_window=3,
    stagnation_action="spawn",
    max_islands=4,
    migration_interval=4,
    migration_topology="random",
)


def test_a_snapshot_keeps_spawned_islands_records_and_counts() -> None:
    feed, _ = _scripted(3, SPAWN)
    db = feed.db
    assert db.num_islands == 4
    state = _roundtrip(db.snapshot())
    assert state["num_islands"] == 4 and state["spawned"] == 2
    assert {"record", "stale"} <= set(state["islands"][0])
    restored = PopulationDatabase.restore(SPAWN, state, dict(feed.programs))
    assert restored.num_islands == 4
    assert restored.snapshot() == db.snapshot()
    for live, back in zip(db._islands, restored._islands, strict=True):
        assert (live.record, live.stale) == (back.record, back.stale)
    twin = Feeder.following(feed, restored)
    for step in range(30):
        assert feed.child(step % 4, float(step % 5)) == twin.child(step % 4, float(step % 5))
    assert restored.snapshot() == db.snapshot()


def test_a_journal_replay_respawns_the_islands_spawned_after_its_base() -> None:
    db = PopulationDatabase(SPAWN, seed=5)
    feed = Feeder(db)
    assert db.take_journal() is None
    base = _roundtrip(db.snapshot())
    assert base["num_islands"] == 2
    for step in range(60):
        feed.child(step % db.num_islands, None if step % 7 == 0 else float(step % 6))
    assert db.num_islands > 2
    state = _roundtrip({"base": base, "replay": db.take_journal(), **db.position()})
    restored = PopulationDatabase.restore(SPAWN, state, program_lookup=feed.programs.__getitem__)
    assert restored.num_islands == db.num_islands
    assert restored.snapshot() == db.snapshot()


def test_a_snapshot_with_spawned_islands_needs_a_config_that_allows_them() -> None:
    feed, _ = _scripted(3, SPAWN)
    state = _roundtrip(feed.db.snapshot())
    programs = dict(feed.programs)
    with pytest.raises(ValueError, match=r"allows at most 2.*max_islands >= 4"):
        PopulationDatabase.restore(
            replace(SPAWN, stagnation_action="reseed", max_islands=None), state, programs
        )
    with pytest.raises(ValueError, match=r"max_islands >= 4"):
        PopulationDatabase.restore(replace(SPAWN, max_islands=3), state, programs)
    with pytest.raises(ValueError, match=r"2 islands \(plus 2 spawned.*num_islands = 2"):
        PopulationDatabase.restore(replace(SPAWN, num_islands=3, max_islands=6), state, programs)


def test_a_snapshot_without_stagnation_restores_records_from_the_members() -> None:
    off = DatabaseConfig(num_islands=2, **QUIET)  # type: ignore[arg-type]
    db = PopulationDatabase(off, seed=1)
    feed = Feeder(db)
    feed.child(1, 5.0)
    feed.child(0, None, status=Status.ERROR)
    state = _roundtrip(db.snapshot())
    assert "spawned" not in state and "record" not in state["islands"][0]  # format unchanged
    on = replace(off, stagnation_window=2)
    restored = PopulationDatabase.restore(on, state, dict(feed.programs))
    assert [island.record for island in restored._islands] == [1.0, 5.0]
    assert [island.stale for island in restored._islands] == [0, 0]
    assert restored.add(child_of(feed.seed, "x1", 0.5, island=0)) == []
    events = restored.add(child_of(feed.seed, "x2", 0.5, island=0))
    assert [type(e) for e in events] == [IslandStagnated, IslandReseeded]


# ----- the property -------------------------------------------------------------------

ADDS = st.lists(
    st.tuples(
        st.integers(0, 7),  # island (taken modulo the islands there are now)
        st.one_of(st.none(), st.floats(-5.0, 5.0, allow_nan=False)),  # None: invalid
        st.integers(0, 40),  # code: a small pool, so some children repeat a code
    ),
    min_size=1,
    max_size=80,
)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 2**32 - 1),
    adds=ADDS,
    window=st.integers(1, 4),
    action=st.sampled_from(["reseed", "spawn"]),
    num_islands=st.integers(1, 3),
    max_island_size=st.sampled_from([None, 2, 5]),
)
def test_stagnation_never_loses_the_best_and_islands_hold_only_added_programs(
    seed: int,
    adds: list[tuple[int, float | None, int]],
    window: int,
    action: str,
    num_islands: int,
    max_island_size: int | None,
) -> None:
    config = DatabaseConfig(
        num_islands=num_islands,
        stagnation_window=window,
        stagnation_action=action,  # type: ignore[arg-type]
        max_island_size=max_island_size,
        migration_interval=3,
    )
    db = PopulationDatabase(config, seed=seed)
    start = make_program("seed", 0.0)
    programs = {"seed": start}
    db.add(start)
    best, held = 0.0, 0.0
    for number, (pick, fitness, code) in enumerate(adds):
        sample = db.sample(pick % db.num_islands)
        child = child_of(sample.parent, f"p{number}", fitness, island=sample.island)
        child = replace(child, code=f"x = {code}\n", code_hash="")
        programs[child.id] = child
        db.add(child)
        now = db.best()
        assert now is not None and now.fitness is not None and now.fitness >= best
        best = now.fitness
        assert db.num_islands <= config.island_cap
        on_islands = [db.get(i) for n in range(db.num_islands) for i in db.island_member_ids(n)]
        assert {p.id for p in on_islands} <= set(programs)  # only programs ever added
        assert all(
            len(db.island_member_ids(n)) for n in range(db.num_islands)
        )  # no island left empty
        top = max(p.fitness for p in on_islands if p.fitness is not None)
        assert top >= held  # the best on the islands is never lost either
        held = top
    restored = PopulationDatabase.restore(config, _roundtrip(db.snapshot()), programs)
    assert restored.snapshot() == db.snapshot()


# ----- configuration ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"stagnation_window": -1}, r"stagnation_window must be an integer >= 0 \(0 is off\)"),
        ({"stagnation_window": True}, "stagnation_window must be"),
        ({"stagnation_action": "restart"}, "stagnation_action must be one of"),
        ({"max_islands": 8}, "max_islands is only read when stagnation_action = 'spawn'"),
        (
            {"stagnation_action": "spawn", "num_islands": 4, "max_islands": 3},
            r"max_islands must be an integer >= num_islands \(4\) or unset, got 3",
        ),
    ],
)
def test_bad_stagnation_settings_raise_naming_the_key_and_the_fix(
    overrides: dict, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        DatabaseConfig(**overrides)


def test_stagnation_keys_load_from_a_database_table(tmp_path) -> None:
    table = {"stagnation_window": 20, "stagnation_action": "spawn", "max_islands": 8}
    assert from_mapping(DatabaseConfig, table, "x") == DatabaseConfig(**table)  # type: ignore[arg-type]
    toml = TOML + '\n[database]\nstagnation_window = 20\nstagnation_action = "spawn"\n'
    spec = load_problem(write_problem(tmp_path / "p", toml=toml + "max_islands = 8\n")).spec
    assert spec.database.stagnation_window == 20
    assert spec.database.stagnation_action == "spawn"
    assert spec.database.island_cap == 8
    bad = write_problem(tmp_path / "q", toml=TOML + "\n[database]\nstagnation_window = -3\n")
    with pytest.raises(ConfigError, match=r"problem\.toml.*stagnation_window must be"):
        load_problem(bad)
