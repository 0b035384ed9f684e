"""The writer's SQLite program index: answers what Parquet would, stays in step
with the checkpoint through crashes, copies, damage and older writers, and
never stops a run (Parquet, the record, answers when the index cannot)."""

from __future__ import annotations

import json
import logging
import shutil
import sqlite3
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from evolve.records import Program, Status
from evolve.store import COMPACT_AT, RunStore, files
from evolve.store.lookup import ProgramLookup
from evolve.store.program_index import INDEX_FILE, ProgramIndex
from tests.problem_factory import write_problem


def program(i: int, code: str | None = None) -> Program:
    return Program(
        id=f"p{i:04d}",
        code=code if code is not None else f"x = {i}\n",
        status=Status.OK,
        metrics={"score": float(i)},
        score=float(i),
        fitness=float(i),
        artifacts={"stdout": f"run {i}"},
    )


def new_store(tmp_path: Path) -> RunStore:
    return RunStore.create(tmp_path / "run", {"problem": "t"}, write_problem(tmp_path / "prob"))


def commit_programs(store: RunStore, ids: range, commit_every: int = 1) -> None:
    for i in ids:
        store.append_program(program(i))
        if (i + 1) % commit_every == 0:
            store.commit({"controller": {"i": i}})


def index_ids(run: Path) -> list[str]:
    with sqlite3.connect(run / INDEX_FILE) as db:
        return [row[0] for row in db.execute("SELECT id FROM programs ORDER BY id")]


def committed_ids(run: Path) -> list[str]:
    return sorted(RunStore.open(run).read_table("programs").column("id").to_pylist())


def parquet_unreachable(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make every Parquet lookup fail, so only the index can answer."""

    def refuse(self: ProgramLookup, table: str, key: str) -> None:
        raise AssertionError(f"read {table} {key} from Parquet")

    monkeypatch.setattr(ProgramLookup, "_row", refuse)


def test_the_writer_reads_committed_programs_from_the_index(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = new_store(tmp_path)
    commit_programs(store, range(10))
    from_parquet = RunStore.open(tmp_path / "run").get_program("p0003")
    store._lookup._programs.clear()  # not from the in-memory cache either
    parquet_unreachable(monkeypatch)
    got = store.get_program("p0003")
    assert got == from_parquet  # every field, not only the text
    assert (got.code, got.metrics, got.artifacts) == (
        "x = 3\n",
        {"score": 3.0},
        {"stdout": "run 3"},
    )
    assert index_ids(tmp_path / "run") == [f"p{i:04d}" for i in range(10)]


def test_readers_do_not_use_or_create_an_index(tmp_path: Path) -> None:
    store = new_store(tmp_path)
    commit_programs(store, range(3))
    store.close()
    (tmp_path / "run" / INDEX_FILE).unlink()
    reader = RunStore.open(tmp_path / "run")
    assert reader.get_program("p0001").code == "x = 1\n"
    assert not (tmp_path / "run" / INDEX_FILE).exists()


def test_an_index_deleted_or_from_an_older_evolve_is_rebuilt_on_resume(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = new_store(tmp_path)
    commit_programs(store, range(COMPACT_AT + 10))  # merged files and loose parts
    store.close()
    run = tmp_path / "run"
    (run / INDEX_FILE).unlink()
    resumed = RunStore.open(run, repair=True)
    assert index_ids(run) == committed_ids(run)
    # an evolve without the index committed more: its checkpoint has no token
    commit_programs(resumed, range(COMPACT_AT + 10, COMPACT_AT + 13))
    resumed.close()
    checkpoint = json.loads((run / "checkpoint.json").read_text())
    with sqlite3.connect(run / INDEX_FILE) as db, db:
        db.execute("DELETE FROM programs WHERE id >= 'p0070'")  # the rows it never added
    del checkpoint["program_index"]
    (run / "checkpoint.json").write_text(json.dumps(checkpoint))
    again = RunStore.open(run, repair=True)
    assert index_ids(run) == committed_ids(run)
    again._lookup._programs.clear()
    parquet_unreachable(monkeypatch)
    assert again.get_program(f"p{COMPACT_AT + 12:04d}").code == f"x = {COMPACT_AT + 12}\n"


def test_a_commit_that_died_before_its_checkpoint_is_cut_from_the_index(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = new_store(tmp_path)
    commit_programs(store, range(3))
    store.append_program(program(3, code="a new text\n"))

    def died(path: Path, data: bytes) -> None:
        raise SystemExit("killed")  # the checkpoint write never happens

    monkeypatch.setattr(files, "write_atomic", died)
    monkeypatch.setattr("evolve.store.run_store.write_atomic", died)
    with pytest.raises(SystemExit):
        store.commit({"controller": {"i": 3}})
    monkeypatch.undo()
    run = tmp_path / "run"
    assert "p0003" in index_ids(run)  # the index was one commit ahead
    resumed = RunStore.open(run, repair=True)
    assert index_ids(run) == ["p0000", "p0001", "p0002"]
    with pytest.raises(KeyError):
        resumed.get_program("p0003")
    with sqlite3.connect(run / INDEX_FILE) as db:
        texts = db.execute("SELECT count(*) FROM code").fetchone()[0]
    assert texts == 3  # the uncommitted text is gone too
    # the resumed run redoes iteration 3 with another text: the index follows
    resumed.append_program(program(3, code="redone\n"))
    resumed.commit({"controller": {"i": 3}})
    resumed._lookup._programs.clear()
    parquet_unreachable(monkeypatch)
    assert resumed.get_program("p0003").code == "redone\n"


def test_an_index_copied_from_another_run_is_rebuilt(tmp_path: Path) -> None:
    first = new_store(tmp_path / "a")
    commit_programs(first, range(4))
    first.close()
    second = new_store(tmp_path / "b")
    second.append_program(program(0, code="other\n"))
    second.commit({"controller": {}})
    second.close()
    shutil.copy(tmp_path / "a" / "run" / INDEX_FILE, tmp_path / "b" / "run" / INDEX_FILE)
    for suffix in ("-wal", "-shm"):
        (tmp_path / "b" / "run" / (INDEX_FILE + suffix)).unlink(missing_ok=True)
    resumed = RunStore.open(tmp_path / "b" / "run", repair=True)
    assert index_ids(tmp_path / "b" / "run") == ["p0000"]
    resumed._lookup._programs.clear()
    assert resumed.get_program("p0000").code == "other\n"


def test_a_damaged_row_is_answered_from_parquet_and_the_index_dropped(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = new_store(tmp_path)
    commit_programs(store, range(3))
    run = tmp_path / "run"
    with sqlite3.connect(run / INDEX_FILE) as db, db:
        (blob,) = db.execute(
            "SELECT c.code FROM code c JOIN programs p ON p.code_hash = c.code_hash "
            "WHERE p.id = 'p0001'"
        ).fetchone()
        damaged = blob[:-1] + bytes([blob[-1] ^ 1])
        db.execute("UPDATE code SET code = ? WHERE code = ?", (damaged, blob))
    store._lookup._programs.clear()
    with caplog.at_level(logging.WARNING, logger="evolve.store"):
        assert [store.get_program(f"p{i:04d}").code for i in range(3)] == [
            "x = 0\n",
            "x = 1\n",
            "x = 2\n",
        ]
    assert "CRC-32" in caplog.text and "Parquet" in caplog.text
    assert not (run / INDEX_FILE).exists()
    commit_programs(store, range(3, 4))  # the run goes on, without the index
    assert "program_index" not in json.loads((run / "checkpoint.json").read_text())
    RunStore.open(run, repair=True)
    assert index_ids(run) == committed_ids(run)


def test_an_index_that_cannot_be_written_does_not_stop_the_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    store = new_store(tmp_path)
    commit_programs(store, range(2))

    def full(self: ProgramIndex, *args: object) -> None:
        raise sqlite3.OperationalError("database or disk is full")

    monkeypatch.setattr(ProgramIndex, "_insert", full)
    with caplog.at_level(logging.WARNING, logger="evolve.store"):
        commit_programs(store, range(2, 4))
    assert "disk is full" in caplog.text
    monkeypatch.undo()
    run = tmp_path / "run"
    assert "program_index" not in json.loads((run / "checkpoint.json").read_text())
    store._lookup._programs.clear()
    assert store.get_program("p0003").code == "x = 3\n"  # from Parquet
    RunStore.open(run, repair=True)
    assert index_ids(run) == committed_ids(run) == [f"p{i:04d}" for i in range(4)]


def test_an_unreadable_index_file_is_replaced_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = new_store(tmp_path)
    commit_programs(store, range(2))
    store.close()
    run = tmp_path / "run"
    for suffix in ("-wal", "-shm"):
        (run / (INDEX_FILE + suffix)).unlink(missing_ok=True)
    (run / INDEX_FILE).write_bytes(b"not a database at all" * 100)
    with caplog.at_level(logging.WARNING, logger="evolve.store"):
        resumed = RunStore.open(run, repair=True)
    assert str(run / INDEX_FILE) in caplog.text and "Delete the file" in caplog.text
    assert resumed.get_program("p0001").code == "x = 1\n"  # Parquet answers


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    steps=st.lists(
        st.sampled_from(["add", "add_same_text", "commit", "crash", "resume", "delete"]),
        min_size=1,
        max_size=40,
    )
)
def test_after_any_history_the_index_holds_exactly_what_is_committed(
    tmp_path_factory: pytest.TempPathFactory, steps: list[str]
) -> None:
    """Adds (some repeating a text), commits, crashes before a checkpoint,
    resumes and deletions of the file, in any order: after every resume the
    index holds the committed programs and texts, and answers as Parquet does."""
    tmp_path = tmp_path_factory.mktemp("history")
    run = tmp_path / "run"
    store = new_store(tmp_path)
    next_id = 0
    for step in steps:
        if step in ("add", "add_same_text"):
            text = "shared\n" if step == "add_same_text" else None
            store.append_program(program(next_id, code=text))
            next_id += 1
        elif step == "commit":
            store.commit({"controller": {"next": next_id}})
        elif step == "crash":  # the index records, the checkpoint never comes
            saved = (
                (run / "checkpoint.json").read_bytes()
                if (run / "checkpoint.json").exists()
                else None
            )
            store.commit({"controller": {"next": next_id}})
            store.close()
            if saved is None:
                (run / "checkpoint.json").unlink()
            else:
                (run / "checkpoint.json").write_bytes(saved)
            store = RunStore.open(run, repair=True)
            next_id = _next_id(store)
        elif step == "resume":
            store.close()
            store = RunStore.open(run, repair=True)
            next_id = _next_id(store)
        elif step == "delete":
            store.close()
            for suffix in ("", "-wal", "-shm"):
                (run / (INDEX_FILE + suffix)).unlink(missing_ok=True)
            store = RunStore.open(run, repair=True)
            next_id = _next_id(store)
    store.commit({"controller": {"next": next_id}})
    store.close()
    resumed = RunStore.open(run, repair=True)
    committed = committed_ids(run)
    assert index_ids(run) == committed
    reader = RunStore.open(run)
    for pid in committed:
        resumed._lookup._programs.clear()
        assert resumed.get_program(pid) == reader.get_program(pid)
    with sqlite3.connect(run / INDEX_FILE) as db:
        texts = db.execute("SELECT count(*) FROM code").fetchone()[0]
    assert texts == len(set(reader.read_table("code").column("code_hash").to_pylist()))


def _next_id(store: RunStore) -> int:
    """The next id after the committed ones (a resumed run redoes the rest)."""
    return len(store.read_table("programs"))
