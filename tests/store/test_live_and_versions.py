"""Every evaluation is recorded and stays; readers of a live run and of older
schema versions see exactly the committed records; resume refuses what it
cannot trust, with the file named."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest

from evolve import store as store_module
from evolve.engine.runner import RunOptions, start_run
from evolve.engine.state import RunLimits
from evolve.errors import StoreError
from evolve.records import Program, Status
from evolve.store import SCHEMA_VERSION, RunStore
from tests.problem_factory import TOML, write_problem

FIXTURE = Path(__file__).parent / "fixtures" / "schema_v1"
SMALL_ISLAND = TOML + "\n[database]\nnum_islands = 1\nmax_island_size = 3\n"


def test_every_evaluation_is_recorded_and_evicted_programs_stay(tmp_path: Path) -> None:
    problem = write_problem(tmp_path / "problem", toml=SMALL_ISLAND)
    start_run(
        problem,
        tmp_path / "run",
        RunOptions(seed=2, deterministic=True),
        RunLimits(evaluations=30, concurrency=2),
    )
    store = RunStore.open(tmp_path / "run")
    programs = store.read_table("programs").to_pylist()
    evaluations = store.read_table("evaluations").to_pylist()
    evaluated = [p for p in programs if p["duplicate_of"] is None]
    assert len(evaluated) == 31  # the seed and 30 children
    assert [e["program_id"] for e in evaluations] == [p["id"] for p in evaluated]
    assert [e["status"] for e in evaluations] == [p["status"] for p in evaluated]
    assert all(
        e["peak_memory_mb"] is not None and e["stage_reached"] is not None for e in evaluations
    )
    assert all(e["wall_time_s"] > 0 for e in evaluations)
    # The island holds 3; every program it evicted is still in the lineage.
    evicted = [e["payload"]["program_id"] for e in store.load_events() if e["kind"] == "eviction"]
    ids = {p["id"] for p in programs}
    assert len(evicted) >= 10 and set(evicted) <= ids
    assert all(set(p["parent_ids"]) <= ids for p in programs)
    assert store.get_program(evicted[0]).code  # code stays reachable too


def test_a_v1_run_is_resumed_in_place(tmp_path: Path) -> None:
    run_dir = shutil.copytree(FIXTURE, tmp_path / "run")
    old_part = (run_dir / "programs" / "part-000001.parquet").read_bytes()
    store = RunStore.open(run_dir, repair=True)
    assert store.read_table("evaluations").num_rows == 0  # a v1 run has no such table
    child = Program(
        id="p999999", code="x = 99\n", parent_ids=("p000000",), status=Status.OK, wall_time_s=0.5
    )
    store.append_program(child)
    store.append_evaluation(child, peak_memory_mb=12.5, stage_reached=1)
    store.commit({})
    reopened = RunStore.open(run_dir)
    assert reopened.read_table("programs").num_rows == 41
    assert reopened.read_table("evaluations").to_pylist()[0]["peak_memory_mb"] == 12.5
    assert reopened.settings["schema_version"] == 1  # the version that created it
    assert reopened.load_checkpoint()["schema_version"] == SCHEMA_VERSION  # its last writer
    assert (run_dir / "programs" / "part-000001.parquet").read_bytes() == old_part
    chain = reopened.check_chain()  # its old rows carry no hash; the new one starts the chain
    assert chain.ok and (chain.unhashed, chain.checked) == (40, 1)


def test_a_run_of_a_newer_schema_reads_but_does_not_resume(tmp_path: Path) -> None:
    run_dir = shutil.copytree(FIXTURE, tmp_path / "run")
    checkpoint = json.loads((run_dir / "checkpoint.json").read_text())
    checkpoint["schema_version"] = SCHEMA_VERSION + 1
    (run_dir / "checkpoint.json").write_text(json.dumps(checkpoint))
    assert RunStore.open(run_dir).read_table("programs").num_rows == 40
    with pytest.raises(StoreError, match="newer than this evolve"):
        RunStore.open(run_dir, repair=True)


def committed_run(tmp_path: Path, commits: int) -> RunStore:
    store = RunStore.create(tmp_path / "run", {}, write_problem(tmp_path / "problem"))
    for i in range(commits):
        store.append_program(Program(id=f"p{i}", code=f"x = {i}\n", status=Status.OK))
        store.commit({})
    return store


def test_resume_refuses_a_missing_committed_part_naming_it(tmp_path: Path) -> None:
    committed_run(tmp_path, 3)
    (tmp_path / "run" / "programs" / "part-000002.parquet").unlink()
    with pytest.raises(StoreError, match=r"part-000002\.parquet: committed segment is missing"):
        RunStore.open(tmp_path / "run", repair=True)


def test_resume_refuses_a_torn_merged_file_naming_it(tmp_path: Path) -> None:
    store = committed_run(tmp_path, store_module.COMPACT_AT)
    a, b = store.manifest.compacted_ranges("programs")[0]
    merged = tmp_path / "run" / "programs" / f"compact-{a:06d}-{b:06d}.parquet"
    merged.write_bytes(merged.read_bytes()[:100])
    with pytest.raises(StoreError, match="committed segment is unreadable"):
        RunStore.open(tmp_path / "run", repair=True)


def test_a_reader_opened_before_merges_keeps_reading_everything(tmp_path: Path) -> None:
    writer = committed_run(tmp_path, 5)
    reader = RunStore.open(tmp_path / "run")
    for i in range(5, store_module.COMPACT_AT + 5):  # merges and deletes parts 1..64
        writer.append_program(Program(id=f"p{i}", code=f"x = {i}\n", status=Status.OK))
        writer.commit({})
    assert not (tmp_path / "run" / "programs" / "part-000001.parquet").exists()
    ids = reader.read_table("programs").column("id").to_pylist()  # re-reads the manifest
    assert ids == [f"p{i}" for i in range(store_module.COMPACT_AT + 5)]
    assert reader.get_program("p66").code == "x = 66\n"  # committed after it opened
    before = RunStore.open(tmp_path / "run")
    writer.append_program(Program(id="late", code="x = -1\n", status=Status.OK))
    writer.commit({})
    assert before.read_table("programs").num_rows == store_module.COMPACT_AT + 5
    before.refresh()
    assert before.read_table("programs").num_rows == store_module.COMPACT_AT + 6


def test_directory_readers_skip_temp_files_and_see_each_record_once(tmp_path: Path) -> None:
    committed_run(tmp_path, store_module.COMPACT_AT + 3)  # a merged file and loose parts
    folder = tmp_path / "run" / "programs"
    # Files are written outside the table folder, then renamed in: complete or absent.
    assert {p.suffix for p in folder.iterdir()} == {".parquet"}
    assert not list((tmp_path / "run" / ".tmp").iterdir())
    # Runs of earlier versions wrote temp files beside their final names.
    pq.write_table(pq.read_table(next(folder.glob("part-*"))), folder / ".part-000099.parquet.tmp")
    (folder / ".compact-000070-000099.parquet.tmp").write_bytes(b"PAR1 torn")
    expected = [f"p{i}" for i in range(store_module.COMPACT_AT + 3)]
    assert sorted(pd.read_parquet(folder)["id"]) == sorted(expected)
    assert sorted(ds.dataset(folder).to_table().column("id").to_pylist()) == sorted(expected)
    globbed = sorted(folder.glob("*.parquet"))  # DuckDB/polars style 'programs/*.parquet'
    assert sum(pq.read_metadata(p).num_rows for p in globbed) == len(expected)
