"""The database checkpoint is incremental: a commit appends the database's journal
to a delta log and names its committed length; a full base is written only when
the log outgrows its bound. Restoring (base + replay) gives the very database
that was checkpointed; readers see only committed bytes; resume repairs what a
crash left; runs that kept the whole state inline still resume."""

from __future__ import annotations

import errno
import json
import os
import shutil
from pathlib import Path
from typing import Any, BinaryIO

import pytest

from evolve.database import PopulationDatabase
from evolve.errors import StoreError
from evolve.store import RunStore, database_log, files
from evolve.store.database_log import COMPACT_MIN
from tests.problem_factory import write_problem
from tests.store.database_runs import CONFIG, Writer, database_commit

V2_INLINE = Path(__file__).parent / "fixtures" / "schema_v2_inline_database"


@pytest.fixture
def problem(tmp_path: Path) -> Path:
    return write_problem(tmp_path / "problem")


def reference(run: Path) -> dict[str, Any]:
    value: dict[str, Any] = json.loads((run / "checkpoint.json").read_text())["database"]
    return value


def database_files(run: Path) -> list[str]:
    return sorted(p.name for p in (run / "database").iterdir())


def test_commits_append_to_the_delta_log_and_the_checkpoint_stays_small(
    tmp_path: Path, problem: Path
) -> None:
    writer = Writer.create(tmp_path / "run", problem)
    run = tmp_path / "run"
    assert database_files(run) == ["base-000001.json", "delta-000001.jsonl"]
    base_bytes = (run / "database" / "base-000001.json").read_bytes()
    writer.grow(1, 300, commit_every=25)
    ref = reference(run)
    assert ref["base"] == "base-000001.json" and ref["entries"] >= 300  # adds + migrations
    assert (run / "database" / "base-000001.json").read_bytes() == base_bytes  # not rewritten
    assert (run / "database" / "delta-000001.jsonl").stat().st_size == ref["bytes"]
    assert len((run / "checkpoint.json").read_bytes()) < 1_500  # no per-program data
    lines = (run / "database" / "delta-000001.jsonl").read_bytes().splitlines()
    assert json.loads(lines[0]) == {"op": "add", "id": "p000001"}
    assert any("rng" in json.loads(line) for line in lines)  # random migrations drew


def test_restore_from_base_and_delta_continues_exactly_like_the_original(
    tmp_path: Path, problem: Path
) -> None:
    writer = Writer.create(tmp_path / "run", problem)
    writer.grow(1, 200, commit_every=16)
    writer.db.sample()  # a sample after the last add moves the generator and cursor
    writer.commit()
    resumed = Writer.resume(tmp_path / "run")
    assert resumed.db.snapshot() == writer.db.snapshot()
    writer.grow(201, 80, commit_every=10)
    resumed.grow(201, 80, commit_every=10)
    assert resumed.observed == writer.observed[-len(resumed.observed) :]
    assert resumed.db.snapshot() == writer.db.snapshot()


def test_a_new_base_is_written_when_the_delta_outgrows_its_bound(
    tmp_path: Path, problem: Path
) -> None:
    writer = Writer.create(tmp_path / "run", problem)
    run = tmp_path / "run"
    writer.grow(1, COMPACT_MIN + 200, commit_every=100)
    ref = reference(run)
    assert ref["base"] == "base-000002.json"
    assert 0 < ref["entries"] <= COMPACT_MIN
    assert database_files(run) == ["base-000002.json", "delta-000002.jsonl"]  # old pair deleted
    resumed = Writer.resume(run)
    assert resumed.db.snapshot() == writer.db.snapshot()


def test_a_reader_sees_only_committed_entries(tmp_path: Path, problem: Path) -> None:
    writer = Writer.create(tmp_path / "run", problem)
    writer.grow(1, 40, commit_every=10)
    expected = writer.db.snapshot()
    run = tmp_path / "run"
    with open(run / "database" / "delta-000001.jsonl", "ab") as f:
        f.write(b'{"op":"add","id":"p999999"}\n{"op":"add","id":"p99')  # a torn append
    reader = RunStore.open(run)  # no repair: a live run's reader writes nothing
    state = reader.load_checkpoint()
    assert state is not None
    restored = PopulationDatabase.restore(
        CONFIG, state["database"], program_lookup=reader.get_program
    )
    assert restored.snapshot() == expected
    assert (run / "database" / "delta-000001.jsonl").stat().st_size > reference(run)["bytes"]


def test_resume_cuts_the_log_back_and_deletes_unnamed_files(
    tmp_path: Path, problem: Path, caplog: pytest.LogCaptureFixture
) -> None:
    writer = Writer.create(tmp_path / "run", problem)
    writer.grow(1, 40, commit_every=10)
    expected = writer.db.snapshot()
    run = tmp_path / "run"
    delta = run / "database" / "delta-000001.jsonl"
    with open(delta, "ab") as f:
        f.write(b'{"op":"add","id":"p0000')
    (run / "database" / "base-000002.json").write_bytes(b"{}")  # a compaction never named
    (run / "database" / "delta-000002.jsonl").write_bytes(b"")
    (run / "database" / ".base-000003.json.tmp").write_bytes(b"{")  # torn atomic write
    with caplog.at_level("WARNING"):
        resumed = Writer.resume(run)
    assert database_files(run) == ["base-000001.json", "delta-000001.jsonl"]
    assert delta.stat().st_size == reference(run)["bytes"]
    assert "written after the last checkpoint" in caplog.text
    assert resumed.db.snapshot() == expected
    # A restored database has no journal yet: its first commit writes a new base.
    resumed.grow(41, 28, commit_every=7)
    assert reference(run)["base"] == "base-000002.json" and reference(run)["entries"] > 0
    assert database_files(run) == ["base-000002.json", "delta-000002.jsonl"]
    again = Writer.resume(run)
    assert again.db.snapshot() == resumed.db.snapshot()


@pytest.mark.parametrize("what", ["missing base", "short delta", "changed delta", "changed base"])
def test_damaged_database_files_stop_a_resume_naming_the_file(
    tmp_path: Path, problem: Path, what: str
) -> None:
    writer = Writer.create(tmp_path / "run", problem)
    writer.grow(1, 40, commit_every=10)
    folder = tmp_path / "run" / "database"
    base, delta = folder / "base-000001.json", folder / "delta-000001.jsonl"
    if what == "missing base":
        base.unlink()
    elif what == "short delta":
        delta.write_bytes(delta.read_bytes()[:-5])
    elif what == "changed delta":
        delta.write_bytes(delta.read_bytes().replace(b"p000003", b"p000004", 1))
    else:
        base.write_bytes(base.read_bytes().replace(b'"cursor":', b'"cursor": ', 1))
    target = base if "base" in what else delta
    with pytest.raises(StoreError, match=str(target)):
        Writer.resume(tmp_path / "run")


def test_a_full_disk_appending_to_the_log_loses_nothing(
    tmp_path: Path, problem: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    writer = Writer.create(tmp_path / "run", problem)
    writer.grow(1, 20, commit_every=10)
    expected = writer.db.snapshot()
    before = (tmp_path / "run" / "checkpoint.json").read_bytes()
    writer.grow(21, 9, commit_every=100)

    def full(f: BinaryIO, data: bytes) -> None:
        f.write(data[: len(data) // 2])
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(files, "_write_bytes", full)
    with pytest.raises(StoreError, match=r"delta-000001\.jsonl: no space left"):
        writer.commit()
    monkeypatch.undo()
    delta = tmp_path / "run" / "database" / "delta-000001.jsonl"
    assert (tmp_path / "run" / "checkpoint.json").read_bytes() == before
    assert delta.stat().st_size == reference(tmp_path / "run")["bytes"]  # cut back
    reader = RunStore.open(tmp_path / "run")  # the previous checkpoint still restores
    state = reader.load_checkpoint()
    assert state is not None
    db = PopulationDatabase.restore(CONFIG, state["database"], program_lookup=reader.get_program)
    assert db.snapshot() == expected
    # The writer itself keeps the journal it could not write, and commits it next time.
    writer.grow(30, 5, commit_every=100)
    writer.commit()
    assert Writer.resume(tmp_path / "run").db.snapshot() == writer.db.snapshot()


def test_a_reader_racing_a_new_base_reads_the_newer_checkpoint(
    tmp_path: Path, problem: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    writer = Writer.create(tmp_path / "run", problem)
    writer.grow(1, 30, commit_every=10)
    reader = RunStore.open(tmp_path / "run")
    read = database_log.DatabaseLog.read
    calls = []

    def racing(self: database_log.DatabaseLog, ref: dict[str, Any]) -> dict[str, Any]:
        calls.append(ref["base"])
        if len(calls) == 1:  # the live run compacted and deleted this base meanwhile
            raise FileNotFoundError(2, "gone", str(self.folder / ref["base"]))
        return read(self, ref)

    monkeypatch.setattr(database_log.DatabaseLog, "read", racing)
    state = reader.load_checkpoint()
    assert state is not None and len(calls) == 2
    restored = PopulationDatabase.restore(
        CONFIG, state["database"], program_lookup=reader.get_program
    )
    assert restored.snapshot() == writer.db.snapshot()


def test_a_journal_that_does_not_follow_the_base_gets_a_new_base(
    tmp_path: Path, problem: Path
) -> None:
    writer = Writer.create(tmp_path / "run", problem)
    writer.grow(1, 10, commit_every=10)
    writer.grow(11, 5, commit_every=100)
    writer.db.take_journal()  # someone else took entries: the log would miss them
    writer.grow(16, 5, commit_every=5)
    assert reference(tmp_path / "run")["base"] == "base-000002.json"
    assert Writer.resume(tmp_path / "run").db.snapshot() == writer.db.snapshot()


def test_commits_without_the_database_keep_naming_its_files(tmp_path: Path, problem: Path) -> None:
    writer = Writer.create(tmp_path / "run", problem)
    writer.grow(1, 10, commit_every=10)
    ref = reference(tmp_path / "run")
    writer.store.commit({"controller": {}})
    assert reference(tmp_path / "run") == ref
    writer.store.commit({"controller": {}, "database": writer.db.snapshot()})  # inline, as before
    assert not list((tmp_path / "run" / "database").iterdir())
    with pytest.raises(ValueError, match="not both"):
        writer.store.commit({"database": {}}, database_commit(writer.db))


def test_the_raw_reference_is_not_a_database_state(tmp_path: Path, problem: Path) -> None:
    writer = Writer.create(tmp_path / "run", problem)
    raw = RunStore.open(tmp_path / "run").load_checkpoint(database=False)
    assert raw is not None and raw["database"]["base"] == "base-000001.json"
    with pytest.raises(ValueError, match=r"RunStore\.load_checkpoint"):
        PopulationDatabase.restore(CONFIG, raw["database"], program_lookup=writer.store.get_program)


def test_a_run_with_its_database_inline_resumes_and_then_writes_files(tmp_path: Path) -> None:
    """Runs before schema 4 kept the whole database state in checkpoint.json."""
    from evolve.config import load_problem

    run = shutil.copytree(V2_INLINE, tmp_path / "run")
    inline = json.loads((run / "checkpoint.json").read_text())["database"]
    store = RunStore.open(run, repair=True)
    checkpoint = store.load_checkpoint()
    assert checkpoint is not None and checkpoint["database"] == inline
    config = load_problem(store.problem_dir).spec.database
    db = PopulationDatabase.restore(
        config, checkpoint["database"], program_lookup=store.get_program
    )
    assert db.snapshot() == inline
    store.commit({"controller": checkpoint["controller"]}, database_commit(db))
    assert reference(run)["base"] == "base-000001.json"
    again = RunStore.open(run, repair=True).load_checkpoint()
    assert again is not None
    restored = PopulationDatabase.restore(
        config, again["database"], program_lookup=store.get_program
    )
    assert restored.snapshot() == db.snapshot()


def test_evolve_resumes_a_run_with_its_database_inline(tmp_path: Path) -> None:
    from evolve.engine.runner import resume_run
    from evolve.engine.state import RunLimits

    run = shutil.copytree(V2_INLINE, tmp_path / "run")
    before = json.loads((run / "checkpoint.json").read_text())["controller"]["evaluations"]
    outcome = resume_run(run, RunLimits(evaluations=6, concurrency=1))
    assert outcome.progress.evaluations == before + 6
    assert reference(run)["format"] == 3
    assert RunStore.open(run, repair=True).read_table("programs").num_rows >= before + 6
