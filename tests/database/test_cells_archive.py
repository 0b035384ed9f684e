"""MAP-Elites cells, the cross-island archive, and the inspirations they feed."""

from __future__ import annotations

from dataclasses import replace

from evolve.database import DatabaseConfig, FeatureDimension, PopulationDatabase
from evolve.database.binning import UNKNOWN_CELL
from evolve.records import Program, Status
from tests.database.builders import make_program

SIZE = FeatureDimension("size", width=1.0)


def _db(**overrides: object) -> PopulationDatabase:
    config = {"num_islands": 1, "feature_dimensions": (SIZE,), "migration_fraction": 0.0}
    return PopulationDatabase(DatabaseConfig(**(config | overrides)), seed=3)  # type: ignore[arg-type]


def _add(
    db: PopulationDatabase, pid: str, fitness: float | None, size: float | None, island: int = 0
) -> Program:
    program = make_program(pid, fitness, parents=("seed",), island=island)
    if size is not None:
        program = replace(program, metrics={"size": size})
    db.add(program)
    return program


def _seed(db: PopulationDatabase, fitness: float = 1.0, size: float = 0.5) -> None:
    seed = make_program("seed", fitness)
    seed = replace(seed, metrics={"size": size})
    db.add(seed)


def test_each_cell_holds_its_best_and_a_weaker_child_joins_only_the_population() -> None:
    db = _db()
    _seed(db, fitness=1.0, size=0.5)
    _add(db, "weaker", 0.5, 0.9)  # same cell (0,), not better
    _add(db, "elsewhere", 0.1, 7.2)  # a new cell
    assert db.cell_elites(0) == {(0,): "seed", (7,): "elsewhere"}
    assert set(db.island_member_ids(0)) == {"seed", "weaker", "elsewhere"}
    _add(db, "better", 2.0, 0.1)
    assert db.cell_elites(0) == {(0,): "better", (7,): "elsewhere"}
    assert db.cell_of("weaker") == (0,)


def test_a_missing_feature_metric_lands_in_the_unknown_cell() -> None:
    db = _db()
    _seed(db)
    _add(db, "no-size", 0.3, None)
    assert db.cell_of("no-size") == (UNKNOWN_CELL,)
    assert db.cell_elites(0)[(UNKNOWN_CELL,)] == "no-size"
    assert "no-size" in db.island_member_ids(0)


def test_invalid_programs_enter_neither_cells_nor_archive() -> None:
    db = _db()
    _seed(db)
    _add(db, "broken", None, 9.0)
    assert (9,) not in db.cell_elites(0)
    assert "broken" not in db.archive_ids()
    assert "broken" in db.island_member_ids(0)  # still a repair candidate


def test_fitness_archive_keeps_the_best_elites_within_its_size() -> None:
    db = _db(archive_size=2, archive_policy="fitness")
    _seed(db, fitness=0.0, size=0.0)
    for i in range(1, 6):
        _add(db, f"e{i}", float(i), float(3 * i))  # each in a new cell
        assert len(db.archive_ids()) <= 2
    assert sorted(db.archive_ids()) == ["e4", "e5"]


def test_crowding_replaces_the_most_similar_weaker_elite_and_never_the_best() -> None:
    db = _db(archive_size=3, archive_policy="crowding")
    _seed(db, fitness=1.0, size=0.0)
    _add(db, "mid", 2.0, 5.0)
    _add(db, "top", 3.0, 9.0)
    _add(db, "near-seed", 1.5, 1.0)  # weaker than mid/top: replaces the seed (distance 1)
    assert sorted(db.archive_ids()) == ["mid", "near-seed", "top"]
    _add(db, "near-mid", 2.5, 8.0)  # weaker candidates: near-seed (7 away), mid (3 away)
    assert sorted(db.archive_ids()) == ["near-mid", "near-seed", "top"]
    _add(db, "near-top", 2.9, 10.0)  # top is closest but stronger: near-mid goes instead
    assert sorted(db.archive_ids()) == ["near-seed", "near-top", "top"]
    _add(db, "weakest", 0.1, 20.0)  # weaker than every member: rejected
    assert "weakest" not in db.archive_ids()


def test_archive_of_size_zero_stays_empty() -> None:
    db = _db(archive_size=0)
    _seed(db)
    _add(db, "a", 2.0, 3.0)
    assert db.archive_ids() == []


def test_diverse_inspirations_are_elites_of_other_cells() -> None:
    db = _db(num_inspirations=3, top_inspirations=0, selection="uniform")
    _seed(db, fitness=0.0, size=0.0)
    for i in range(1, 40):
        _add(db, f"c{i}", float(i % 7), float(i % 10))
    elites = set(db.cell_elites(0).values())
    for _ in range(50):
        sample = db.sample(0)
        parent_cell = db.cell_of(sample.parent.id)
        assert len(sample.inspirations) == 3
        for program in sample.inspirations:
            assert program.id in elites
            assert db.cell_of(program.id) != parent_cell


def test_archive_inspirations_bring_programs_from_other_islands() -> None:
    db = _db(num_islands=2, num_inspirations=1, archive_inspirations=1)
    _seed(db, fitness=0.0, size=0.0)
    _add(db, "far", 5.0, 4.0, island=1)
    assert "far" in db.archive_ids() and "far" not in db.island_member_ids(0)
    sample = db.sample(0)
    assert [p.id for p in sample.inspirations] == ["far"]
    # On island 1 "far" is a member, so the archive has nothing new: its share goes to members.
    assert {p.id for p in db.sample(1).inspirations} <= set(db.island_member_ids(1))


def test_top_inspirations_lead_with_the_island_best() -> None:
    db = _db(num_inspirations=2, top_inspirations=2, selection="uniform")
    _seed(db, fitness=0.0, size=0.0)
    for i in range(1, 10):
        _add(db, f"c{i}", float(i), 0.0)
    for _ in range(20):
        sample = db.sample(0)
        expected = [pid for pid in ("c9", "c8", "c7") if pid != sample.parent.id][:2]
        assert [p.id for p in sample.inspirations] == expected


def test_repair_parents_keep_their_errors() -> None:
    db = _db()
    seed = make_program("seed", None, status=Status.ERROR)
    seed = replace(seed, reason="ZeroDivisionError", artifacts={"traceback": "line 3"})
    db.add(seed)
    rejected = make_program("rejected", None, parents=("seed",), status=Status.INVALID)
    rejected = replace(rejected, reason="returned a point outside the box")
    db.add(rejected)
    sample = db.sample(0)
    assert sample.parent.status is not Status.OK and sample.parent.reason
    assert {sample.parent.id, *(p.id for p in sample.inspirations)} == {"seed", "rejected"}
