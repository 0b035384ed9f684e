"""A full disk during a commit is a ``StoreError`` naming the file being written
and saying that nothing committed so far is lost; the previous checkpoint stays
valid, no temp file is left taking space, and resume continues from it."""

from __future__ import annotations

import errno
import json
import os
from pathlib import Path
from typing import Any, BinaryIO

import pyarrow as pa
import pytest

from evolve.errors import StoreError
from evolve.records import Program, Status
from evolve.store import RunStore, files
from tests.problem_factory import write_problem

NOT_LOST = "nothing committed so far is lost"


def store_with_one_commit(tmp_path: Path) -> RunStore:
    store = RunStore.create(tmp_path / "run", {"problem": "t"}, write_problem(tmp_path / "prob"))
    store.append_program(Program(id="p0", code="x = 0\n", status=Status.OK, wall_time_s=0.1))
    store.commit({"controller": {"evaluations": 1}})
    store.append_program(Program(id="p1", code="x = 1\n", status=Status.OK, wall_time_s=0.1))
    return store


def disk_full(*args: Any, **kwargs: Any) -> None:
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def assert_first_commit_intact(run_dir: Path) -> None:
    assert not list((run_dir / ".tmp").glob("*")) and not list(run_dir.glob(".*.tmp"))
    assert json.loads((run_dir / "checkpoint.json").read_text())["controller"] == {"evaluations": 1}
    resumed = RunStore.open(run_dir, repair=True)
    assert resumed.read_table("programs").column("id").to_pylist() == ["p0"]
    assert resumed.get_program("p0").code == "x = 0\n"


def test_a_full_disk_writing_a_segment_names_it_and_loses_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = store_with_one_commit(tmp_path)
    monkeypatch.setattr(files, "_write_table", disk_full)
    with pytest.raises(StoreError) as caught:
        store.commit({"controller": {"evaluations": 2}})
    message = str(caught.value)
    part = tmp_path / "run" / "programs" / "part-000002.parquet"
    assert str(part) in message and "no space left" in message and NOT_LOST in message
    assert f"evolve resume {tmp_path / 'run'}" in message
    monkeypatch.undo()
    assert_first_commit_intact(tmp_path / "run")


def test_a_full_disk_writing_the_checkpoint_names_it_and_keeps_the_previous(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = store_with_one_commit(tmp_path)
    before = (tmp_path / "run" / "checkpoint.json").read_bytes()

    def full(f: BinaryIO, data: bytes) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(files, "_write_bytes", full)
    with pytest.raises(StoreError) as caught:
        store.commit({"controller": {"evaluations": 2}})
    assert str(tmp_path / "run" / "checkpoint.json") in str(caught.value)
    assert NOT_LOST in str(caught.value)
    monkeypatch.undo()
    assert (tmp_path / "run" / "checkpoint.json").read_bytes() == before
    assert_first_commit_intact(tmp_path / "run")  # the new, unnamed part is dropped


def test_a_quota_is_a_full_disk_too(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = store_with_one_commit(tmp_path)

    def over_quota(*args: Any, **kwargs: Any) -> None:
        raise OSError(errno.EDQUOT, os.strerror(errno.EDQUOT))

    monkeypatch.setattr(files, "_write_table", over_quota)
    with pytest.raises(StoreError, match=NOT_LOST):
        store.commit({})


def test_other_write_errors_are_not_dressed_up_as_a_full_disk(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = store_with_one_commit(tmp_path)

    def broken(*args: Any, **kwargs: Any) -> None:
        raise OSError(errno.EIO, os.strerror(errno.EIO))

    monkeypatch.setattr(files, "_write_table", broken)
    with pytest.raises(OSError) as caught:
        store.commit({})
    assert not isinstance(caught.value, StoreError) and caught.value.errno == errno.EIO


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs Linux's /dev/full")
def test_a_real_enospc_from_pyarrow_is_caught(tmp_path: Path) -> None:
    # /dev/full answers every write with ENOSPC: the temp file of the next part
    # points there, so pyarrow's own error (not a stand-in) reaches the store.
    store = store_with_one_commit(tmp_path)
    tmp = tmp_path / "run" / files.TMP_DIR / "programs.part-000002.parquet"
    tmp.symlink_to("/dev/full")
    with pytest.raises(StoreError, match=NOT_LOST) as caught:
        store.commit({"controller": {"evaluations": 2}})
    assert str(tmp_path / "run" / "programs" / "part-000002.parquet") in str(caught.value)
    assert not tmp.is_symlink()
    assert_first_commit_intact(tmp_path / "run")


@pytest.mark.parametrize("low_level", ["_write_table", "_write_bytes"])
def test_a_commit_retried_once_space_is_free_keeps_every_record(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, low_level: str
) -> None:
    # The engine commits again when a run stops after a failed commit.
    store = store_with_one_commit(tmp_path)
    monkeypatch.setattr(files, low_level, disk_full)
    with pytest.raises(StoreError, match=NOT_LOST):
        store.commit({"controller": {"evaluations": 2}})
    monkeypatch.undo()
    store.commit({"controller": {"evaluations": 2}})
    reopened = RunStore.open(tmp_path / "run", repair=True)
    assert reopened.read_table("programs").column("id").to_pylist() == ["p0", "p1"]
    assert reopened.get_program("p1").code == "x = 1\n"


def test_new_files_are_written_with_page_checksums(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # What the store asks pyarrow for (the flipped-byte tests show the effect).
    seen: dict[str, Any] = {}
    real = files._write_table

    def spy(table: pa.Table, path: Path, **options: Any) -> None:
        seen.update(options)
        real(table, path, **options)

    monkeypatch.setattr(files, "_write_table", spy)
    store_with_one_commit(tmp_path)
    assert seen.get("write_page_checksum") is True
