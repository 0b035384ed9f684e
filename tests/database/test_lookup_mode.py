"""With program_lookup the database keeps metadata only and fetches programs on demand."""

from __future__ import annotations

import gc
import weakref
from dataclasses import replace

from evolve.database import DatabaseConfig, FeatureDimension, PopulationDatabase
from evolve.records import Program
from tests.database.builders import child_of, make_program

CONFIG = DatabaseConfig(
    num_islands=3,
    migration_interval=2,
    num_inspirations=3,
    archive_inspirations=1,
    feature_dimensions=(FeatureDimension("speed", width=1.0),),
    selection="weighted",
)


class Store:
    """Stands in for the run store: counts every fetch."""

    def __init__(self) -> None:
        self.programs: dict[str, Program] = {}
        self.fetches = 0

    def lookup(self, program_id: str) -> Program:
        self.fetches += 1
        return self.programs[program_id]


def _child(parent: Program, i: int, island: int) -> Program:
    child = child_of(parent, f"c{i}", float((i * 13) % 9) if i % 4 else None, island=island)
    child = replace(child, metrics={"speed": float(i % 5)})
    return child


def test_lookup_mode_behaves_exactly_like_memory_mode() -> None:
    store = Store()
    memory = PopulationDatabase(CONFIG, seed=9)
    lookup = PopulationDatabase(CONFIG, seed=9, program_lookup=store.lookup)
    seed = make_program("seed", 0.0)
    store.programs["seed"] = seed
    for db in (memory, lookup):
        db.add(seed)
    for i in range(60):
        a, b = memory.sample(), lookup.sample()
        assert (a.island, a.parent.id, [p.id for p in a.inspirations]) == (
            b.island,
            b.parent.id,
            [p.id for p in b.inspirations],
        )
        child = _child(a.parent, i, a.island)
        store.programs[child.id] = child
        assert memory.add(child) == lookup.add(child)
    assert memory.snapshot() == lookup.snapshot()


def test_only_returned_programs_are_fetched() -> None:
    store = Store()
    db = PopulationDatabase(CONFIG, seed=1, program_lookup=store.lookup)
    seed = make_program("seed", 0.0)
    store.programs["seed"] = seed
    db.add(seed)
    for i in range(40):
        child = _child(seed, i, i % 3)
        store.programs[child.id] = child
        db.add(child)
    assert store.fetches == 0  # adding never reads the store
    for _ in range(30):
        before = store.fetches
        sample = db.sample()
        assert store.fetches - before == 1 + len(sample.inspirations)
    before = store.fetches
    assert db.best() is not None and store.fetches == before  # the best is kept at hand
    assert db.find_duplicate(store.programs["c7"].code) == "c7" and store.fetches == before


def test_added_programs_are_not_kept_alive() -> None:
    db = PopulationDatabase(CONFIG, seed=1, program_lookup=lambda pid: make_program(pid, 0.0))
    refs = []
    for i in range(20):
        program = make_program(f"p{i}", float(-i), parents=() if i == 0 else ("p0",))
        refs.append(weakref.ref(program))
        db.add(program)
        del program
    gc.collect()
    alive = [r() for r in refs if r() is not None]
    assert [p.id for p in alive] == ["p0"]  # only the best is held, for best()
