"""Island moves beyond placement: topologies, migration caps, resets, duplicates."""

from __future__ import annotations

from evolve.database import (
    DatabaseConfig,
    DuplicateCode,
    IslandReset,
    Migration,
    PopulationDatabase,
)
from evolve.records import Program
from tests.database.builders import child_of, make_program


def _db(seed: int = 1, **overrides: object) -> PopulationDatabase:
    return PopulationDatabase(DatabaseConfig(**overrides), seed=seed)  # type: ignore[arg-type]


def _seeded(db: PopulationDatabase, fitness: float = 0.0) -> Program:
    seed = make_program("seed", fitness)
    db.add(seed)
    return seed


def test_all_topology_sends_migrants_to_every_other_island() -> None:
    db = _db(num_islands=4, migration_interval=1, migration_fraction=1.0, migration_topology="all")
    seed = _seeded(db)
    events = db.add(child_of(seed, "a", 1.0, island=2))
    assert events == [Migration(2, t, "a", 1) for t in (0, 1, 3)]
    assert all("a" in db.island_member_ids(i) for i in range(4))


def test_random_topology_sends_to_one_other_island_reproducibly() -> None:
    targets = []
    for _ in range(2):
        db = _db(
            seed=5,
            num_islands=5,
            migration_interval=1,
            migration_fraction=1.0,
            migration_topology="random",
        )
        seed = _seeded(db)
        run = []
        for i in range(20):
            events = db.add(child_of(seed, f"c{i}", float(i + 1), island=0))
            run += [e.target_island for e in events if isinstance(e, Migration)]
        targets.append(run)
    assert targets[0] == targets[1]
    assert 0 not in targets[0] and len(set(targets[0])) > 1


def test_migration_is_capped_by_max_migrants_on_a_large_island() -> None:
    db = _db(num_islands=2, migration_interval=50, migration_fraction=1.0, max_migrants=3)
    seed = _seeded(db)
    events = []
    for i in range(50):
        events += db.add(child_of(seed, f"c{i}", float(i), island=0))
    migrations = [e for e in events if isinstance(e, Migration)]
    assert [m.program_id for m in migrations] == ["c49", "c48", "c47"]  # the top 3, best first


def test_child_whose_code_differs_only_in_comments_is_a_duplicate_on_its_island() -> None:
    db = _db(num_islands=2)
    seed = make_program("seed", 1.0, code="x = 1\n")
    db.add(seed)
    events = db.add(child_of(seed, "same", 2.0, island=0, code="x  =  1   # tuned\n\n"))
    assert events == [DuplicateCode(0, "same", "seed")]
    assert db.find_duplicate("# header\nx = 1\n") == "seed"
    assert db.find_duplicate("x = 2\n") is None
    assert db.find_by_code_hash(db.get("same").code_hash) == "same"  # exact hashes differ


def test_find_duplicate_then_add_gives_the_same_result_as_add_alone() -> None:
    plain, warmed = _db(num_islands=2), _db(num_islands=2)
    for db in (plain, warmed):
        _seeded(db)
    code = "y = 3  # new\n"
    assert warmed.find_duplicate(code) is None
    for db in (plain, warmed):
        db.add(child_of(db.get("seed"), "c", 1.0, island=1, code=code))
    assert plain.snapshot() == warmed.snapshot()
    assert warmed.find_duplicate("y = 3\n") == "c"


def test_children_are_counted_per_parent() -> None:
    db = _db(num_islands=1)
    seed = _seeded(db)
    for i in range(3):
        db.add(child_of(seed, f"c{i}", float(i), island=0))
    db.add(child_of(db.get("c0"), "g", 5.0, island=0))
    assert [db.children_count(p) for p in ("seed", "c0", "c1", "g")] == [3, 1, 0, 0]


def test_reset_empties_the_weaker_half_and_reseeds_from_a_survivor() -> None:
    db = _db(num_islands=4, migration_fraction=0.0, reset_interval=9)
    seed = _seeded(db)
    fitness = {0: 1.0, 1: 10.0, 2: 2.0, 3: 20.0}
    events = []
    for i in range(8):  # the 9th program added triggers the reset
        island = i % 4
        events = db.add(child_of(seed, f"c{i}", fitness[island] + i, island=island))
    resets = [e for e in events if isinstance(e, IslandReset)]
    assert sorted(e.island for e in resets) == [0, 2]
    for event in resets:
        assert event.source_island in (1, 3) and event.at_programs == 9
        source_best = db.island_member_ids(event.source_island)[0]
        assert event.founder_id == source_best
        assert db.island_member_ids(event.island) == [source_best]
        assert db.migrant_ids(event.island) == [source_best]
        assert db.islands_summary()[event.island].num_cells == 1
    assert db.best().id == "c7"  # the global best survives
    assert [s.generation for s in db.islands_summary()] == [2, 2, 2, 2]


def test_reset_is_off_by_default_and_with_one_island() -> None:
    for db in (_db(num_islands=4), _db(num_islands=1, reset_interval=1)):
        seed = _seeded(db)
        for i in range(30):
            events = db.add(child_of(seed, f"c{i}", float(i), island=i % db.num_islands))
            assert not any(isinstance(e, IslandReset) for e in events)
