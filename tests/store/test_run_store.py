"""The run store round-trips records and never lets disk and checkpoint disagree."""

from __future__ import annotations

import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from evolve.errors import StoreError
from evolve.records import Program, Status
from evolve.store import RunStore
from tests.problem_factory import write_problem

names = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), min_size=1, max_size=12)
finite = st.floats(allow_nan=False, allow_infinity=False)

programs = st.builds(
    Program,
    id=st.from_regex(r"p[0-9]{6}", fullmatch=True),
    code=st.text(max_size=200),
    parent_ids=st.lists(st.from_regex(r"p[0-9]{6}", fullmatch=True), max_size=2).map(tuple),
    island=st.integers(0, 50),
    generation=st.integers(0, 10_000),
    iteration=st.integers(0, 10**9),
    created_at=finite,
    status=st.sampled_from(list(Status)),
    metrics=st.dictionaries(names, finite, max_size=5),
    score=st.none() | finite,
    fitness=st.none() | finite,
    artifacts=st.dictionaries(names, st.text(max_size=50), max_size=3),
    reason=st.text(max_size=40),
    edit_kind=st.sampled_from(["seed", "diff", "rewrite"]),
    model=st.text(max_size=10),
    llm_call_id=st.none() | st.text(max_size=10),
    wall_time_s=finite,
    duplicate_of=st.none() | st.from_regex(r"p[0-9]{6}", fullmatch=True),
)


@pytest.fixture
def problem_dir(tmp_path):
    return write_problem(tmp_path / "problem")


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(batch=st.lists(programs, max_size=8, unique_by=lambda p: p.id))
def test_programs_round_trip_exactly(tmp_path_factory, problem_dir, batch):
    root = tmp_path_factory.mktemp("run")
    store = RunStore.create(root / "r", {"seed": 1}, problem_dir)
    for program in batch:
        store.append_program(program)
    store.commit({"controller": {}})
    loaded = RunStore.open(root / "r").load_programs()
    assert list(loaded) == [p.id for p in batch]
    for program in batch:
        got = loaded[program.id]
        assert got.record_hash  # the store's, not the caller's (evolve.store.chain)
        for field in Program.__dataclass_fields__:
            if field == "record_hash":
                continue
            want = getattr(program, field)
            have = getattr(got, field)
            if isinstance(want, float) and math.isnan(want):
                assert math.isnan(have)
            else:
                assert have == want, field


def test_uncommitted_segments_are_discarded_on_repair(tmp_path, problem_dir):
    store = RunStore.create(tmp_path / "r", {}, problem_dir)
    store.append_program(Program(id="p000000", code="a", status=Status.OK))
    store.commit({"n": 1})
    # Simulate a crash after a segment was written but before the checkpoint:
    store.append_program(Program(id="p000001", code="b", status=Status.OK))
    orphan = tmp_path / "r" / "programs" / "part-000002.parquet"
    import pyarrow as pa
    import pyarrow.parquet as pq

    from evolve.store import PROGRAM_SCHEMA, program_row

    pq.write_table(
        pa.Table.from_pylist(
            [program_row(Program(id="p000001", code="b", status=Status.OK))], PROGRAM_SCHEMA
        ),
        orphan,
    )
    # Inspection never deletes (a live run may be between the two writes)...
    assert list(RunStore.open(tmp_path / "r").load_programs()) == ["p000000"]
    assert orphan.exists()
    # ...resume does, so the program cannot be duplicated when it is re-proposed.
    assert list(RunStore.open(tmp_path / "r", repair=True).load_programs()) == ["p000000"]
    assert not orphan.exists()


def test_code_is_stored_once_per_hash(tmp_path, problem_dir):
    store = RunStore.create(tmp_path / "r", {}, problem_dir)
    store.append_program(Program(id="p1", code="same", status=Status.OK))
    store.append_program(Program(id="p2", code="same", status=Status.OK))
    store.commit({})
    assert store.read_table("code").num_rows == 1
    assert store.read_table("programs").num_rows == 2


def test_create_refuses_to_overwrite_a_run(tmp_path, problem_dir):
    RunStore.create(tmp_path / "r", {}, problem_dir)
    with pytest.raises(StoreError, match="already holds a run"):
        RunStore.create(tmp_path / "r", {}, problem_dir)


def test_open_rejects_a_non_run_directory(tmp_path):
    with pytest.raises(StoreError, match="not a run directory"):
        RunStore.open(tmp_path)


def test_problem_is_copied_into_the_run(tmp_path, problem_dir):
    store = RunStore.create(tmp_path / "r", {}, problem_dir)
    assert (store.problem_dir / "scorer.py").read_text() == (problem_dir / "scorer.py").read_text()


def test_events_round_trip(tmp_path, problem_dir):
    store = RunStore.create(tmp_path / "r", {}, problem_dir)
    store.append_event("migration", 7, {"source_island": 0, "target_island": 1})
    store.commit({})
    (event,) = RunStore.open(tmp_path / "r").load_events()
    assert event["kind"] == "migration"
    assert event["iteration"] == 7
    assert event["payload"] == {"source_island": 0, "target_island": 1}


def test_get_program_reads_pending_committed_and_reopened_programs(tmp_path, problem_dir):
    store = RunStore.create(tmp_path / "r", {}, problem_dir)
    first = Program(
        id="p000000", code="a = 1", metrics={"score": 1.0}, score=1.0, fitness=1.0, status=Status.OK
    )
    store.append_program(first)
    pending = store.get_program("p000000")  # pending: visible before any commit
    assert pending == first and pending.record_hash  # with the hash the store gave it
    store.commit({})
    for i in range(1, 40):
        store.append_program(Program(id=f"p{i:06d}", code=f"a = {i}", status=Status.OK))
        if i % 7 == 0:
            store.commit({})
    store.commit({})
    assert store.get_program("p000021").code == "a = 21"
    reopened = RunStore.open(tmp_path / "r")
    got = reopened.get_program("p000000")
    assert (got.code, got.metrics, got.fitness) == ("a = 1", {"score": 1.0}, 1.0)
    assert reopened.get_program("p000039").code == "a = 39"
    with pytest.raises(KeyError, match="p999999"):
        reopened.get_program("p999999")
