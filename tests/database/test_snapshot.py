from __future__ import annotations

import json

import pytest

from evolve.database import DatabaseConfig, PopulationDatabase, Sample
from evolve.records import Program
from tests.database.builders import child_of, make_program

CONFIG = DatabaseConfig(num_islands=3, migration_interval=3, max_island_size=6)


def _grow(db: PopulationDatabase, programs: dict[str, Program], start: int, count: int) -> list:
    """Add ``count`` children of sampled parents; return everything observable."""
    seen: list = []
    for i in range(start, start + count):
        sample = db.sample()
        seen.append(_signature(sample))
        fitness = None if i % 5 == 0 else float((i * 37) % 11)
        child = child_of(sample.parent, f"p{i}", fitness, island=sample.island)
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


def test_snapshot_is_plain_json() -> None:
    db, _ = _grown_database()
    state = db.snapshot()
    assert json.loads(json.dumps(state)) == state
    assert set(state) == {"format", "num_islands", "rng", "cursor", "programs", "islands"}
    assert set(state["islands"][0]) == {"generation", "members", "migrants"}


def test_restored_database_continues_exactly_like_the_original() -> None:
    db, programs = _grown_database()
    state = json.loads(json.dumps(db.snapshot()))
    restored = PopulationDatabase.restore(CONFIG, state, dict(programs))
    assert restored.snapshot() == db.snapshot()
    assert restored.islands_summary() == db.islands_summary()
    assert restored.best() is db.best()
    original_programs = dict(programs)
    expected = _grow(db, original_programs, 41, 30)
    assert _grow(restored, dict(programs), 41, 30) == expected
    assert any(events for events in expected[1::2])  # the continuation did evict or migrate


def test_restore_reports_a_program_missing_from_the_store() -> None:
    db, programs = _grown_database()
    del programs["p3"]
    with pytest.raises(ValueError, match="'p3', missing from the run store"):
        PopulationDatabase.restore(CONFIG, db.snapshot(), programs)


def test_restore_refuses_a_different_number_of_islands() -> None:
    db, programs = _grown_database()
    with pytest.raises(ValueError, match="num_islands = 3"):
        PopulationDatabase.restore(DatabaseConfig(num_islands=4), db.snapshot(), programs)


def test_restore_refuses_an_unknown_format() -> None:
    db, programs = _grown_database()
    state = db.snapshot() | {"format": 99}
    with pytest.raises(ValueError, match="format 99"):
        PopulationDatabase.restore(CONFIG, state, programs)
