"""Segments are merged so file counts stay small, and a crash mid-merge loses nothing."""

from __future__ import annotations

import shutil
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from evolve import store as store_module
from evolve.records import Program, Status
from evolve.store import RunStore, run_store
from tests.problem_factory import write_problem


def many_commits(tmp_path: Path, commits: int) -> RunStore:
    problem = write_problem(tmp_path / "problem")
    store = RunStore.create(tmp_path / "run", {"problem": "tiny"}, problem)
    for i in range(commits):
        store.append_program(Program(id=f"p{i}", code=f"x = {i}\n", status=Status.OK))
        store.commit({"controller": {"i": i}})
    return store


def test_file_counts_stay_small_and_every_record_stays(tmp_path: Path) -> None:
    store = many_commits(tmp_path, 200)
    files = list((tmp_path / "run" / "programs").glob("*.parquet"))
    assert len(files) < 200 // store_module.COMPACT_AT + store_module.COMPACT_AT
    assert any(f.name.startswith("compact-") for f in files)
    reopened = RunStore.open(tmp_path / "run")
    ids = reopened.read_table("programs").column("id").to_pylist()
    assert ids == [f"p{i}" for i in range(200)]
    assert reopened.get_program("p3").code == "x = 3\n"
    assert store.get_program("p150").code == "x = 150\n"  # the live store's index follows
    # Directory readers (pandas, DuckDB) see each record once.
    assert pq.read_table(tmp_path / "run" / "programs").num_rows == 200


def test_a_crash_before_the_checkpoint_names_the_merge_loses_nothing(tmp_path: Path) -> None:
    many_commits(tmp_path, store_module.COMPACT_AT - 1)
    before = tmp_path / "before"
    shutil.copytree(tmp_path / "run", before)
    # Simulate: the merged file was written, then the process died.
    parts = sorted((before / "programs").glob("part-*.parquet"))
    merged = pq.read_table(parts[0])
    pq.write_table(merged, before / "programs" / "compact-000001-000063.parquet")
    reopened = RunStore.open(before, repair=True)
    assert not list((before / "programs").glob("compact-*"))
    assert reopened.read_table("programs").num_rows == store_module.COMPACT_AT - 1


def test_a_crash_after_the_checkpoint_names_the_merge_deletes_the_merged_parts(
    tmp_path: Path,
) -> None:
    store = many_commits(tmp_path, store_module.COMPACT_AT)
    (a, b) = store.manifest.compacted_ranges("programs")[0]
    # Simulate: the checkpoint named the merge, then the process died before deleting.
    pq.write_table(
        pq.read_table(tmp_path / "run" / "programs" / f"compact-{a:06d}-{b:06d}.parquet").slice(
            0, 1
        ),
        tmp_path / "run" / "programs" / f"part-{a:06d}.parquet",
    )
    reopened = RunStore.open(tmp_path / "run", repair=True)
    assert not (tmp_path / "run" / "programs" / f"part-{a:06d}.parquet").exists()
    assert reopened.read_table("programs").num_rows == store_module.COMPACT_AT


@pytest.mark.parametrize("group_rows", [7, 1024])
def test_programs_are_found_in_merged_files_of_any_row_group_size(
    tmp_path: Path, group_rows: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Merged files are read with their own row-group size (from their metadata):
    a run merged by an evolve with another ``ROW_GROUP`` still resolves every id."""
    monkeypatch.setattr(run_store, "ROW_GROUP", group_rows)
    problem = write_problem(tmp_path / "problem")
    store = RunStore.create(tmp_path / "run", {"problem": "tiny"}, problem)
    for commit in range(store_module.COMPACT_AT + 1):  # a merge of several row groups
        for i in range(commit * 64, commit * 64 + 64):
            store.append_program(Program(id=f"p{i}", code=f"x = {i}\n", status=Status.OK))
        store.commit({})
    merged = next((tmp_path / "run" / "programs").glob("compact-*.parquet"))
    metadata = pq.ParquetFile(merged).metadata
    assert metadata.num_row_groups > 1 and metadata.row_group(0).num_rows == group_rows
    reopened = RunStore.open(tmp_path / "run")
    for i in (0, group_rows - 1, group_rows, 3 * group_rows + 2, 64 * store_module.COMPACT_AT):
        assert reopened.get_program(f"p{i}").code == f"x = {i}\n"
