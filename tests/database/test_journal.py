"""The journal makes a checkpoint incremental: a base snapshot taken at any point
plus the entries taken since, replayed, is the very database (same state, same
later samples and events), with migrations and resets inside the delta."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from evolve.database import (
    DatabaseConfig,
    FeatureDimension,
    IslandReset,
    Migration,
    PopulationDatabase,
)
from evolve.records import Program
from tests.database.builders import child_of, make_program

CONFIG = DatabaseConfig(
    num_islands=3,
    migration_interval=2,
    migration_topology="random",
    max_island_size=5,
    reset_interval=9,
    selection="mix",
    selection_mix={"uniform": 0.2, "rank": 0.4, "weighted": 0.4},
    num_inspirations=3,
    archive_inspirations=1,
    archive_size=4,
    feature_dimensions=(FeatureDimension("speed", width=1.0),),
)

# One operation of a run: a child of a sampled parent ("add"), a sample alone,
# a forced migration, a forced reset, a new seed.
ops = st.lists(
    st.one_of(
        st.tuples(st.just("add"), st.integers(-3, 4), st.integers(0, 9)),
        st.tuples(st.just("sample"), st.integers(-1, 2)),
        st.tuples(st.just("migrate"), st.integers(0, 2)),
        st.tuples(st.just("reset")),
        st.tuples(st.just("seed"), st.integers(0, 9)),
    ),
    min_size=1,
    max_size=60,
)


class Run:
    """Applies ops to a database and records everything observable."""

    def __init__(self, db: PopulationDatabase, programs: dict[str, Program]) -> None:
        self.db, self.programs = db, programs
        self.seen: list[object] = []

    def apply(self, op: tuple) -> None:
        db, kind = self.db, op[0]
        if kind == "add":
            sample = db.sample()
            self.seen.append((sample.island, sample.parent.id, [p.id for p in sample.inspirations]))
            fitness = None if op[1] < -2 else float(op[1])
            program = child_of(sample.parent, f"p{len(self.programs)}", fitness, sample.island)
            program = replace(program, code=f"x = {op[2]}\n", code_hash="")
            program = replace(program, metrics={"speed": float(op[2] % 4)})
            self.programs[program.id] = program
            self.seen.append(db.add(program))
        elif kind == "sample":
            sample = db.sample(None if op[1] < 0 else op[1])
            self.seen.append((sample.island, sample.parent.id))
        elif kind == "migrate":
            self.seen.append(db.migrate(op[1]))
        elif kind == "reset":
            self.seen.append(db.reset())
        else:
            program = make_program(f"p{len(self.programs)}", 1.0, code=f"s = {op[1]}\n")
            self.programs[program.id] = program
            self.seen.append(db.add(program))


def fresh(seed: int) -> Run:
    programs: dict[str, Program] = {}
    run = Run(PopulationDatabase(CONFIG, seed, program_lookup=lambda pid: programs[pid]), programs)
    run.apply(("seed", 0))
    return run


def roundtrip(value: object) -> object:
    return json.loads(json.dumps(value, allow_nan=False))


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 2**32),
    before=ops,
    after=ops,
    takes=st.lists(st.integers(0, 60), max_size=4),
    later=ops,
    in_memory=st.booleans(),
)
def test_base_at_any_point_plus_replay_is_the_original(
    seed: int, before: list, after: list, takes: list[int], later: list, in_memory: bool
) -> None:
    run = fresh(seed)
    for op in before:
        run.apply(op)
    assert run.db.take_journal() is None  # the journal starts here, with the base
    base = roundtrip(run.db.snapshot())
    journal: list = []
    for number, op in enumerate(after):
        run.apply(op)
        if number in takes:  # commits take the journal in pieces
            journal += run.db.take_journal() or []
    journal += run.db.take_journal() or []
    state = roundtrip({"base": base, "replay": journal, **run.db.position()})
    programs = dict(run.programs)
    if in_memory:
        restored = PopulationDatabase.restore(CONFIG, state, programs)  # type: ignore[arg-type]
    else:
        restored = PopulationDatabase.restore(
            CONFIG,
            state,  # type: ignore[arg-type]
            program_lookup=programs.__getitem__,
        )
    assert restored.snapshot() == run.db.snapshot()
    twin = Run(restored, programs)
    mark = len(run.seen)
    for op in later:
        run.apply(op)
        twin.apply(op)
    assert twin.seen == run.seen[mark:]
    assert restored.snapshot() == run.db.snapshot()


def test_entries_are_small_and_carry_the_generator_only_when_a_call_drew() -> None:
    run = fresh(3)
    run.db.take_journal()
    for number in range(40):
        run.apply(("add", number % 5, number))
    run.apply(("migrate", 1))
    run.apply(("reset",))
    entries = run.db.take_journal()
    assert entries is not None and len(entries) == 42
    assert entries[0] == {"op": "add", "id": "p1"}
    drew = [e for e in entries if "rng" in e]
    # Adds with a due migration (random topology: every 2nd child of an island
    # here) and resets draw; other adds do not, and their entries stay tiny.
    assert 0 < len(drew) < len(entries)
    assert entries[-1]["op"] == "reset" and "rng" in entries[-1]
    assert all(len(json.dumps(e)) < 40 for e in entries if "rng" not in e)
    events = [e for seen in run.seen if isinstance(seen, list) for e in seen]
    assert any(isinstance(e, Migration) for e in events)
    assert any(isinstance(e, IslandReset) for e in events)
    assert run.db.take_journal() == []  # taken: it starts afresh


def test_without_a_checkpointer_nothing_is_journalled() -> None:
    run = fresh(0)
    for number in range(10):
        run.apply(("add", 1, number))
    assert run.db._journal is None  # no list grows per add
    assert run.db.take_journal() is None


def test_a_replay_naming_an_unknown_program_or_op_is_an_error() -> None:
    run = fresh(0)
    run.db.take_journal()
    base = run.db.snapshot()
    run.apply(("add", 1, 1))
    entries = run.db.take_journal()
    assert entries is not None
    state = {"base": base, "replay": entries, **run.db.position()}
    with pytest.raises(ValueError, match="'p1', missing from the run store"):
        PopulationDatabase.restore(CONFIG, state, {"p0": run.programs["p0"]})
    state["replay"] = [{"op": "grow"}]
    with pytest.raises(ValueError, match="unknown op 'grow'"):
        PopulationDatabase.restore(CONFIG, state, run.programs)
