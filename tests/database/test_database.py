from __future__ import annotations

import math

import numpy as np
import pytest

from evolve.database import (
    DatabaseConfig,
    DuplicateCode,
    EmptyDatabaseError,
    Eviction,
    Migration,
    PopulationDatabase,
)
from evolve.database.arrays import encode_array
from evolve.records import Status
from tests.database.builders import child_of, make_program


def _db(**overrides: object) -> PopulationDatabase:
    return PopulationDatabase(DatabaseConfig(**overrides), seed=1)  # type: ignore[arg-type]


def _ids(db: PopulationDatabase, island: int) -> list[str]:
    return [p.id for p in db.island_members(island)]


def test_seed_is_placed_on_every_island() -> None:
    db = _db(num_islands=3)
    assert db.add(make_program("seed", 1.0)) == []
    assert [_ids(db, i) for i in range(3)] == [["seed"]] * 3
    assert [s.generation for s in db.islands_summary()] == [0, 0, 0]


def test_child_goes_only_to_its_island_and_advances_its_generation() -> None:
    db = _db(num_islands=3)
    seed = make_program("seed", 1.0)
    db.add(seed)
    db.add(child_of(seed, "c", 2.0, island=2))
    assert _ids(db, 2) == ["c", "seed"]
    assert _ids(db, 0) == _ids(db, 1) == ["seed"]
    assert [s.generation for s in db.islands_summary()] == [0, 0, 1]


def test_child_with_code_already_on_its_island_is_stored_but_not_placed() -> None:
    db = _db(num_islands=2)
    seed = make_program("seed", 1.0, code="x = 1")
    db.add(seed)
    events = db.add(child_of(seed, "dup", 5.0, island=0, code="x = 1"))
    assert events == [DuplicateCode(island=0, program_id="dup", existing_id="seed")]
    assert _ids(db, 0) == ["seed"]
    assert db.get("dup").id == "dup" and len(db) == 2
    assert db.find_by_code_hash(seed.code_hash) == "seed"
    assert db.islands_summary()[0].generation == 1  # the attempt still counts


def test_programs_without_fitness_rank_below_every_valid_one() -> None:
    db = _db(num_islands=1)
    seed = make_program("seed", -100.0)
    db.add(seed)
    db.add(child_of(seed, "err", None, island=0, status=Status.ERROR))
    db.add(child_of(seed, "bad", None, island=0, status=Status.INVALID))
    db.add(child_of(seed, "good", 3.0, island=0))
    assert _ids(db, 0) == ["good", "seed", "bad", "err"]


def test_best_is_highest_fitness_with_ties_to_the_earliest() -> None:
    db = _db(num_islands=2)
    assert db.best() is None
    seed = make_program("seed", None)
    db.add(seed)
    assert db.best() is None  # no valid program yet
    db.add(child_of(seed, "a", 2.0, island=0))
    db.add(child_of(seed, "b", 2.0, island=1))
    assert db.best().id == "a"
    db.add(child_of(seed, "c", 2.5, island=1))
    assert db.best().id == "c"


def test_all_invalid_population_samples_its_best_failures() -> None:
    db = _db(num_islands=1, exploration_ratio=0.0, rank_exponent=8.0, num_inspirations=2)
    seed = make_program("seed", None, status=Status.ERROR)
    db.add(seed)
    db.add(child_of(seed, "timeout", None, island=0, status=Status.TIMEOUT))
    db.add(child_of(seed, "rejected", None, island=0, status=Status.INVALID))
    sample = db.sample(0)
    assert sample.parent.id == "rejected"  # a scorer's rejection is closest to working
    assert {p.id for p in sample.inspirations} <= {"timeout", "seed"}
    assert len(sample.inspirations) == 2


def test_valid_programs_crowd_out_invalid_ones_as_parents_and_inspirations() -> None:
    db = _db(num_islands=1, num_inspirations=5)
    seed = make_program("seed", 0.0)
    db.add(seed)
    for i in range(5):
        db.add(child_of(seed, f"bad{i}", None, island=0))
    db.add(child_of(seed, "good", 1.0, island=0))
    for _ in range(50):
        sample = db.sample()
        assert sample.parent.fitness is not None
        assert all(p.fitness is not None for p in sample.inspirations)


def test_inspirations_exclude_the_parent_and_are_distinct() -> None:
    db = _db(num_islands=1, num_inspirations=4)
    seed = make_program("seed", 0.0)
    db.add(seed)
    for i in range(30):
        db.add(child_of(seed, f"c{i}", float(i % 7), island=0))
    for _ in range(200):
        sample = db.sample()
        ids = [p.id for p in sample.inspirations]
        assert len(ids) == 4 == len(set(ids))
        assert sample.parent.id not in ids
    # The island's best leads the inspirations unless it is the parent.
    sample = db.sample()
    best_on_island = _ids(db, 0)[0]
    if sample.parent.id != best_on_island:
        assert sample.inspirations[0].id == best_on_island


def test_inspirations_are_capped_by_the_island_size() -> None:
    db = _db(num_islands=1, num_inspirations=5)
    seed = make_program("seed", 0.0)
    db.add(seed)
    db.add(child_of(seed, "c", 1.0, island=0))
    sample = db.sample()
    assert len(sample.inspirations) == 1
    assert sample.inspirations[0].id != sample.parent.id


def test_round_robin_sampling_spreads_over_islands() -> None:
    db = _db(num_islands=4)
    db.add(make_program("seed", 0.0))
    assert [db.sample().island for _ in range(9)] == [0, 1, 2, 3, 0, 1, 2, 3, 0]
    assert db.sample(2).island == 2
    assert db.sample().island == 1  # an explicit island does not move the cursor


def test_empty_database_raises_a_clear_error() -> None:
    db = _db()
    with pytest.raises(EmptyDatabaseError, match="add the seed program"):
        db.sample()


def test_empty_island_falls_back_to_the_next_one() -> None:
    db = _db(num_islands=3)
    seed = make_program("seed", 0.0)
    db.add(seed)
    db.add(child_of(seed, "c", 1.0, island=2))
    state = db.snapshot()
    empty = encode_array(np.zeros(0, np.int32))
    state["islands"][0]["members"] = empty  # cannot happen through add(); forge it
    state["islands"][1]["members"] = empty
    restored = PopulationDatabase.restore(db.config, state, {"seed": seed, "c": db.get("c")})
    assert restored.sample(0).island == 2


@pytest.mark.parametrize("island", [-1, 3])
def test_child_on_missing_island_is_rejected(island: int) -> None:
    db = _db(num_islands=3)
    seed = make_program("seed", 0.0)
    db.add(seed)
    with pytest.raises(ValueError, match=r"Sample\.island"):
        db.add(child_of(seed, "c", 1.0, island=island))
    with pytest.raises(ValueError, match="does not exist"):
        db.sample(island)


def test_adding_the_same_id_twice_or_a_nan_fitness_is_rejected() -> None:
    db = _db()
    seed = make_program("seed", 0.0)
    db.add(seed)
    with pytest.raises(ValueError, match="already added"):
        db.add(child_of(seed, "seed", 1.0, island=0))
    with pytest.raises(ValueError, match="NaN"):
        db.add(child_of(seed, "nan", math.nan, island=0))


def test_get_unknown_id_raises_key_error() -> None:
    with pytest.raises(KeyError, match="nope"):
        _db().get("nope")


def test_full_island_evicts_its_weakest_and_keeps_its_best() -> None:
    db = _db(num_islands=1, max_island_size=3)
    seed = make_program("seed", 10.0)
    db.add(seed)
    db.add(child_of(seed, "a", 1.0, island=0))
    db.add(child_of(seed, "b", 2.0, island=0))
    assert db.add(child_of(seed, "c", 3.0, island=0)) == [Eviction(0, "a")]
    assert db.add(child_of(seed, "d", 0.5, island=0)) == [Eviction(0, "d")]
    assert _ids(db, 0) == ["seed", "c", "b"]
    assert db.get("a").id == "a" and len(db) == 5


def test_island_of_size_one_keeps_only_its_best() -> None:
    db = _db(num_islands=1, max_island_size=1)
    seed = make_program("seed", 1.0)
    db.add(seed)
    assert db.add(child_of(seed, "worse", 0.0, island=0)) == [Eviction(0, "worse")]
    assert db.add(child_of(seed, "better", 2.0, island=0)) == [Eviction(0, "seed")]
    assert _ids(db, 0) == ["better"]


def test_migration_happens_every_interval_and_marks_migrants() -> None:
    db = _db(num_islands=3, migration_interval=2, migration_fraction=0.5)
    seed = make_program("seed", 0.0)
    db.add(seed)
    assert db.add(child_of(seed, "a", 5.0, island=0)) == []  # generation 1
    events = db.add(child_of(seed, "b", 3.0, island=0))  # generation 2: island of 3 -> quota 1
    assert events == [Migration(0, 1, "a", at_generation=2)]
    assert _ids(db, 1) == ["a", "seed"]
    assert db.migrant_ids(1) == ["a"]
    assert db.islands_summary()[1].num_migrants == 1
    assert db.islands_summary()[1].generation == 0  # arriving migrants do not count
    # "a" is the best on island 1 but, being a migrant there, never moves on to island 2.
    db.add(child_of(seed, "c", 1.0, island=1))
    events = db.add(child_of(seed, "d", 2.0, island=1))  # island of 4 -> quota 2
    assert events == [Migration(1, 2, "d", 2), Migration(1, 2, "c", 2)]
    assert "a" not in _ids(db, 2)


def test_migration_skips_code_the_target_already_holds() -> None:
    db = _db(num_islands=2, migration_interval=1, migration_fraction=1.0)
    seed = make_program("seed", 0.0, code="x = 0")
    db.add(seed)
    assert db.add(child_of(seed, "a", 1.0, island=1, code="x = 1")) == [Migration(1, 0, "a", 1)]
    # Island 0 now holds "a"; an island-0 child with the same code is a duplicate there.
    events = db.add(child_of(seed, "a2", 2.0, island=0, code="x = 1"))
    assert events[0] == DuplicateCode(0, "a2", "a")
    assert all(not isinstance(e, Migration) or e.program_id != "seed" for e in events)


def test_invalid_programs_never_migrate() -> None:
    db = _db(num_islands=2, migration_interval=1, migration_fraction=1.0)
    seed = make_program("seed", None)
    db.add(seed)
    assert db.add(child_of(seed, "bad", None, island=0)) == []
    assert _ids(db, 1) == ["seed"]


@pytest.mark.parametrize("overrides", [{"num_islands": 1}, {"migration_fraction": 0.0}])
def test_no_migration_with_one_island_or_zero_fraction(overrides: dict) -> None:
    db = _db(migration_interval=1, **overrides)
    seed = make_program("seed", 0.0)
    db.add(seed)
    for i in range(5):
        assert db.add(child_of(seed, f"c{i}", float(i + 1), island=0)) == []


def test_islands_summary_reports_size_best_and_generation() -> None:
    db = _db(num_islands=2)
    seed = make_program("seed", 1.0)
    db.add(seed)
    db.add(child_of(seed, "c", 4.0, island=1))
    db.add(child_of(seed, "e", None, island=1))
    summary = db.islands_summary()
    assert (summary[0].size, summary[0].best_id, summary[0].best_fitness) == (1, "seed", 1.0)
    assert (summary[1].size, summary[1].num_valid, summary[1].best_id) == (3, 2, "c")
    assert summary[1].generation == 2


def test_equal_fitness_ranks_the_earlier_program_first() -> None:
    db = _db(num_islands=1)
    seed = make_program("seed", 0.0)
    db.add(seed)
    for pid in ["x", "y", "z"]:
        db.add(child_of(seed, pid, 1.0, island=0))
    assert _ids(db, 0) == ["x", "y", "z", "seed"]
