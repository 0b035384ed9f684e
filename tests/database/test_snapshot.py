from __future__ import annotations

import json
from dataclasses import replace

import pytest

from evolve.database import (
    DatabaseConfig,
    Eviction,
    FeatureDimension,
    IslandReset,
    Migration,
    Objective,
    PopulationDatabase,
    Sample,
)
from evolve.records import Program
from tests.database.builders import child_of, make_program

CONFIG = DatabaseConfig(
    num_islands=3,
    migration_interval=3,
    max_island_size=6,
    reset_interval=17,
    selection="mix",
    selection_mix={"uniform": 0.2, "rank": 0.4, "weighted": 0.4},
    num_inspirations=3,
    archive_inspirations=1,
    archive_size=5,
    feature_dimensions=(FeatureDimension("code_length"), FeatureDimension("speed", width=0.5)),
)


def _grow(db: PopulationDatabase, programs: dict[str, Program], start: int, count: int) -> list:
    """Add ``count`` children of sampled parents; return everything observable."""
    seen: list = []
    for i in range(start, start + count):
        sample = db.sample()
        seen.append(_signature(sample))
        fitness = None if i % 5 == 0 else float((i * 37) % 11)
        child = child_of(sample.parent, f"p{i}", fitness, island=sample.island)
        child = replace(
            child,
            code=child.code + "y = 1\n" * (i % 4),
            code_hash="",
            metrics={"speed": float(i % 7)} if i % 6 else {},
        )
        programs[child.id] = child
        seen.append(db.add(child))
    return seen


def _signature(sample: Sample) -> tuple:
    return (sample.island, sample.parent.id, tuple(p.id for p in sample.inspirations))


def _grown_database() -> tuple[PopulationDatabase, dict[str, Program]]:
    db = PopulationDatabase(CONFIG, seed=42)
    seed = make_program("seed", 0.0)
    programs = {"seed": seed}
    db.add(seed)
    _grow(db, programs, 1, 40)
    return db, programs


def test_snapshot_is_plain_and_compact_json() -> None:
    db, programs = _grown_database()
    state = db.snapshot()
    assert json.loads(json.dumps(state, allow_nan=False)) == state
    assert set(state) == {
        "format", "num_islands", "features", "objectives", "rng", "cursor", "best",
        "programs", "islands", "archive",
    }  # fmt: skip
    assert set(state["islands"][0]) == {"generation", "members", "migrants", "cells"}
    assert state["programs"]["ids"] == list(programs)  # each id once, in add order
    columns = {k: v for k, v in state["programs"].items() if k != "ids"}
    assert all(set(v) == {"dtype", "shape", "data"} for v in columns.values())
    assert len(json.dumps(state)) < 8_000  # ~41 programs: no per-program dicts


def test_restored_database_continues_exactly_like_the_original() -> None:
    db, programs = _grown_database()
    state = json.loads(json.dumps(db.snapshot()))
    restored = PopulationDatabase.restore(CONFIG, state, dict(programs))
    assert restored.snapshot() == db.snapshot()
    assert restored.islands_summary() == db.islands_summary()
    assert restored.best() is db.best()
    assert restored.archive_ids() == db.archive_ids()
    assert [restored.cell_elites(i) for i in range(3)] == [db.cell_elites(i) for i in range(3)]
    expected = _grow(db, dict(programs), 41, 40)
    assert _grow(restored, dict(programs), 41, 40) == expected
    kinds = {type(e) for events in expected[1::2] for e in events}
    assert {Eviction, Migration, IslandReset} <= kinds  # the continuation exercised them


def test_restore_with_a_lookup_continues_exactly_like_the_original() -> None:
    db, programs = _grown_database()
    state = json.loads(json.dumps(db.snapshot()))
    fetched: list[str] = []

    def lookup(program_id: str) -> Program:
        fetched.append(program_id)
        return programs[program_id]

    restored = PopulationDatabase.restore(CONFIG, state, program_lookup=lookup)
    assert fetched == []  # restoring reads no program
    assert restored.snapshot() == db.snapshot()
    assert restored.best().id == db.best().id
    expected = _grow(db, dict(programs), 41, 20)
    assert _grow(restored, programs, 41, 20) == expected  # the lookup sees new children too


def test_restore_needs_exactly_one_source_of_programs() -> None:
    db, programs = _grown_database()
    with pytest.raises(ValueError, match="exactly one of programs"):
        PopulationDatabase.restore(CONFIG, db.snapshot())
    with pytest.raises(ValueError, match="exactly one of programs"):
        PopulationDatabase.restore(CONFIG, db.snapshot(), programs, program_lookup=programs.get)


def test_restore_reports_a_program_missing_from_the_store() -> None:
    db, programs = _grown_database()
    del programs["p3"]
    with pytest.raises(ValueError, match="'p3', missing from the run store"):
        PopulationDatabase.restore(CONFIG, db.snapshot(), programs)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"num_islands": 4}, "num_islands = 3"),
        ({"feature_dimensions": (FeatureDimension("code_length"),)}, "feature_dimensions the run"),
        ({"objectives": (Objective("speed"),)}, "objectives the run started with"),
    ],
)
def test_restore_refuses_a_config_that_changes_the_state_layout(changes: dict, message: str):
    db, programs = _grown_database()
    config = DatabaseConfig(**{**CONFIG.__dict__, **changes})
    with pytest.raises(ValueError, match=message):
        PopulationDatabase.restore(config, db.snapshot(), programs)


def test_restore_accepts_changed_policies() -> None:
    db, programs = _grown_database()
    config = DatabaseConfig(**{**CONFIG.__dict__, "selection": "uniform", "selection_mix": {}})
    restored = PopulationDatabase.restore(config, db.snapshot(), programs)
    assert restored.sample().parent.id in programs


def test_restore_refuses_an_unknown_format() -> None:
    db, programs = _grown_database()
    state = db.snapshot() | {"format": 99}
    with pytest.raises(ValueError, match="format 99"):
        PopulationDatabase.restore(CONFIG, state, programs)


def test_dedup_indexes_survive_a_restore() -> None:
    db, programs = _grown_database()
    restored = PopulationDatabase.restore(CONFIG, json.loads(json.dumps(db.snapshot())), programs)
    for pid in ("seed", "p7", "p33"):
        program = programs[pid]
        assert restored.find_by_code_hash(program.code_hash) == db.find_by_code_hash(
            program.code_hash
        )
        assert restored.find_duplicate("# same\n" + program.code) == db.find_duplicate(program.code)
    assert restored.children_count("seed") == db.children_count("seed") > 0
