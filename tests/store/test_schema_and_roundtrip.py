"""Records survive the store unchanged; old run directories stay readable."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pyarrow as pa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import evolve
from evolve import store as store_module
from evolve.records import Program, Status
from evolve.store import RunStore
from tests.problem_factory import write_problem

FIXTURE = Path(__file__).parent / "fixtures" / "schema_v1"

text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=40)
finite = st.floats(allow_nan=False, allow_infinity=False)
programs = st.builds(
    Program,
    id=st.uuids().map(str),
    code=st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=300),
    parent_ids=st.lists(st.uuids().map(str), max_size=3).map(tuple),
    island=st.integers(0, 100),
    generation=st.integers(0, 10_000),
    iteration=st.integers(0, 10**9),
    created_at=finite,
    status=st.sampled_from(list(Status)),
    metrics=st.dictionaries(text, finite, max_size=5),
    score=st.none() | finite,
    fitness=st.none() | finite,
    artifacts=st.dictionaries(text, text, max_size=3),
    reason=text,
    edit_kind=text,
    model=text,
    llm_call_id=st.none() | text,
    wall_time_s=finite,
    duplicate_of=st.none() | text,
)


measured = st.tuples(st.none() | finite, st.none() | st.integers(0, 2**31 - 1))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(st.tuples(programs, measured), min_size=1, max_size=8, unique_by=lambda r: r[0].id),
    st.integers(1, 3),
)
def test_programs_and_evaluations_round_trip_through_the_store(
    records: list[tuple[Program, tuple[float | None, int | None]]], commits: int
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        problem = write_problem(Path(tmp) / "problem")
        store = RunStore.create(Path(tmp) / "run", {"problem": "p"}, problem)
        for i, (program, (memory, stage)) in enumerate(records):
            store.append_program(program)
            store.append_evaluation(program, memory, stage)
            if i % commits == 0:
                store.commit({})
        store.commit({})
        reopened = RunStore.open(Path(tmp) / "run")
        loaded = reopened.load_programs()
        assert list(loaded) == [p.id for p, _ in records]
        for program, _ in records:
            assert loaded[program.id] == program
            assert RunStore.open(Path(tmp) / "run").get_program(program.id) == program
        keys = ["program_id", "iteration", "status", "wall_time_s"]
        keys += ["peak_memory_mb", "stage_reached"]
        got = [tuple(e[k] for k in keys) for e in reopened.read_table("evaluations").to_pylist()]
        assert got == [(p.id, p.iteration, str(p.status), p.wall_time_s, *m) for p, m in records]


def test_a_schema_v1_run_opens_and_reads(tmp_path: Path) -> None:
    run_dir = shutil.copytree(FIXTURE, tmp_path / "run")
    store = RunStore.open(run_dir, repair=True)
    assert store.settings["schema_version"] == 1
    assert len(store.load_programs()) == 40
    run = evolve.Run.open(run_dir)
    assert run.lineage().number_of_nodes() == 40
    assert run.path_to_best()[0] == "p000000"


def test_a_later_schema_adding_a_nullable_column_still_reads_v1_segments(
    tmp_path: Path, monkeypatch
) -> None:
    # The evolution rule: new versions only add nullable columns; old segments
    # read with the new schema get nulls there.
    run_dir = shutil.copytree(FIXTURE, tmp_path / "run")
    newer = store_module.PROGRAM_SCHEMA.append(pa.field("novelty", pa.float64(), nullable=True))
    monkeypatch.setitem(store_module.SCHEMAS, "programs", newer)
    table = RunStore.open(run_dir).read_table("programs")
    assert table.schema.field("novelty").nullable
    assert table.column("novelty").null_count == 40
    assert table.num_rows == 40
