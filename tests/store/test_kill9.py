"""kill -9 at random moments, then `evolve resume`, until the run is done.

Afterwards: exactly the requested evaluations, unique ids and iterations, every
parent in the store, no temp files, every segment readable, and every iteration
a kill caught in flight redone. A deterministic run, which resumes with the same
RNG streams and redoes what a kill caught with the same samples, gives the very
same lineage as a run never interrupted; the default pipeline (more proposals
than evaluations in flight) is held to the accounting.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from evolve.store import RunStore
from tests.problem_factory import SCORER, write_problem

ROOT = Path(__file__).resolve().parents[2]
TARGET = 120
SLOW_SCORER = "import time\n" + SCORER.replace(
    "    spec = ", "    time.sleep(0.05)\n    spec = ", 1
)


def evolve(*args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "evolve.cli", *args],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )


# The ordered schedule (its lineage must equal an uninterrupted run's) and the
# default pipeline with more proposals than evaluations in flight (timing decides
# its lineage; what must hold is the accounting).
SCHEDULES = {
    "deterministic": ("--deterministic",),
    "pipeline": ("--concurrency", "2", "--proposals", "4"),
}


def start(problem: Path, out: Path, schedule: str = "deterministic") -> subprocess.Popen:
    """A new run of TARGET children with a fixed seed."""
    return evolve(
        "run",
        str(problem),
        "--iterations",
        str(TARGET),
        *SCHEDULES[schedule],
        "--seed",
        "5",
        "--out",
        str(out),
    )


def unsettled(run_dir: Path) -> set[int]:
    """Iterations the checkpoint says were drawn but not settled (a resume redoes them)."""
    checkpoint = json.loads((run_dir / "checkpoint.json").read_text())
    return {int(entry["iteration"]) for entry in checkpoint.get("unsettled", [])}


def evaluated(run_dir: Path) -> int:
    """Children evaluated so far (the checkpoint's count includes the seed)."""
    checkpoint = run_dir / "checkpoint.json"
    if not checkpoint.exists():
        return 0
    return int(json.loads(checkpoint.read_text())["controller"]["evaluations"]) - 1


def lineage(run_dir: Path) -> list[tuple]:
    rows = pq.read_table(run_dir / "programs").to_pylist()
    return sorted((r["id"], tuple(r["parent_ids"]), r["code_hash"], r["status"]) for r in rows)


def wait_for_progress(proc: subprocess.Popen, run_dir: Path, before: int) -> None:
    """Until the run has committed more children than ``before`` (or exited)."""
    deadline = time.monotonic() + 120
    while proc.poll() is None and evaluated(run_dir) <= before and time.monotonic() < deadline:
        time.sleep(0.05)


def finish(proc: subprocess.Popen) -> None:
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err.decode()[-2000:]


@pytest.mark.slow
@pytest.mark.parametrize("schedule", list(SCHEDULES))
def test_kill_9_then_resume_loses_nothing_and_duplicates_nothing(
    tmp_path: Path, schedule: str
) -> None:
    # A scorer that takes a while, so kills land with evaluations and proposals in flight.
    problem = write_problem(tmp_path / "problem", scorer=SLOW_SCORER)
    reference = tmp_path / "reference"
    if schedule == "deterministic":
        finish(start(problem, reference, schedule))

    run_dir = tmp_path / "killed"
    rng = random.Random(1234)
    kills = 0
    redo: set[int] = set()  # iterations a kill left unsettled
    proc = start(problem, run_dir, schedule)
    while True:
        # Kill mid-run: once this process has committed progress, at a random moment.
        wait_for_progress(proc, run_dir, evaluated(run_dir))
        time.sleep(rng.uniform(0.0, 1.0))
        if proc.poll() is not None or kills == 4:
            finish(proc)
            break
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        kills += 1
        if not (run_dir / "checkpoint.json").exists():  # killed before the seed was saved
            shutil.rmtree(run_dir, ignore_errors=True)
            proc = start(problem, run_dir, schedule)
            continue
        redo |= unsettled(run_dir)
        remaining = TARGET - evaluated(run_dir)
        if remaining <= 0:
            break
        proc = evolve("resume", str(run_dir), "--iterations", str(remaining))
    remaining = TARGET - evaluated(run_dir)
    if remaining > 0:
        finish(evolve("resume", str(run_dir), "--iterations", str(remaining)))

    assert kills >= 1
    assert redo, "no kill caught a child in flight: the test did not test resuming one"
    assert evaluated(run_dir) == TARGET
    rows = pq.read_table(run_dir / "programs").to_pylist()
    ids = [r["id"] for r in rows]
    assert len(ids) == len(set(ids))
    known = set(ids)
    assert all(set(r["parent_ids"]) <= known for r in rows)
    code = set(pq.read_table(run_dir / "code").column("code_hash").to_pylist())
    assert {r["code_hash"] for r in rows} <= code
    chain = RunStore.open(run_dir).check_chain()  # the record chain survived every kill
    assert chain.ok and chain.checked == len(rows), chain.problem
    assert not list(run_dir.rglob(".*.tmp")) and not list(run_dir.glob(".tmp/*"))
    for part in run_dir.rglob("*.parquet"):
        pq.read_metadata(part)
    # Evaluations in flight at a kill are lost, never half-recorded, and redone
    # on resume with the same parent, inspirations and seed: no iteration is
    # skipped, and the run is exactly the one that was never interrupted.
    iterations = sorted(r["iteration"] for r in rows)
    assert len(iterations) == len(set(iterations))  # no iteration recorded twice
    # Each iteration a kill left unsettled was redone: it is a program now, or
    # an event (a rejected edit, a duplicate of a child in flight, a stale drop).
    events = pq.read_table(run_dir / "events", columns=["iteration"]).column("iteration")
    assert redo <= set(iterations) | set(events.to_pylist())
    if schedule == "deterministic":
        assert iterations == list(range(len(iterations)))
        assert lineage(run_dir) == lineage(reference)


def test_resume_removes_torn_and_uncommitted_files(tmp_path: Path, caplog) -> None:
    from evolve.records import Program, Status
    from evolve.store import RunStore

    problem = write_problem(tmp_path / "problem")
    store = RunStore.create(tmp_path / "run", {"problem": "tiny"}, problem)
    store.append_program(Program(id="a", code="x = 1\n", status=Status.OK))
    store.commit({})
    (tmp_path / "run" / ".tmp" / "programs.part-000002.parquet").write_bytes(b"PAR1 torn")
    (tmp_path / "run" / "programs" / ".part-000002.parquet.tmp").write_bytes(b"PAR1 (v1 name)")
    (tmp_path / "run" / "programs" / "part-000002.parquet").write_bytes(b"PAR1 torn too")
    with caplog.at_level("WARNING"):
        reopened = RunStore.open(tmp_path / "run", repair=True)
    assert [r["id"] for r in reopened.read_table("programs").to_pylist()] == ["a"]
    assert not (tmp_path / "run" / "programs" / "part-000002.parquet").exists()
    assert not list((tmp_path / "run").rglob(".*.tmp"))
    assert not list((tmp_path / "run" / ".tmp").iterdir())
    assert "torn" in caplog.text


def test_an_unreadable_committed_segment_is_a_clear_error(tmp_path: Path) -> None:
    from evolve.errors import StoreError
    from evolve.records import Program, Status
    from evolve.store import RunStore

    problem = write_problem(tmp_path / "problem")
    store = RunStore.create(tmp_path / "run", {"problem": "tiny"}, problem)
    store.append_program(Program(id="a", code="x = 1\n", status=Status.OK))
    store.commit({})
    (tmp_path / "run" / "programs" / "part-000001.parquet").write_bytes(b"garbage")
    with pytest.raises(StoreError, match=r"part-000001\.parquet: committed segment is unreadable"):
        RunStore.open(tmp_path / "run", repair=True)


# A writer killed inside a write of the database checkpoint: the delta log's
# append (half the bytes on disk, the checkpoint not updated) or a new base's
# atomic write (a torn temp file, the old pair still named).
KILLED_WRITER = """
import os, signal, sys
from pathlib import Path
from evolve.store import database_log, files
from tests.store.database_runs import Writer

run, mode = Path(sys.argv[1]), sys.argv[2]
database_log.COMPACT_MIN = 50  # compactions come early, so one can be caught
writer = Writer.create(run, Path(sys.argv[3]))
writer.grow(1, 60, commit_every=10)
target = "/delta-" if mode == "delta" else "/.base-"
write = files._write_bytes

def dying(f, data):
    if target in f.name:
        write(f, data[: len(data) // 2])
        f.flush()
        os.fsync(f.fileno())
        os.kill(os.getpid(), signal.SIGKILL)
    write(f, data)

files._write_bytes = dying
writer.grow(61, 40, commit_every=10)
"""


@pytest.mark.parametrize("mode", ["delta", "base"])
def test_kill_9_inside_a_database_checkpoint_write_resumes_from_the_last_commit(
    tmp_path: Path, mode: str
) -> None:
    from evolve.store import database_log
    from tests.store.database_runs import Writer

    problem = write_problem(tmp_path / "problem")
    run = tmp_path / "killed"
    proc = subprocess.run(
        [sys.executable, "-c", KILLED_WRITER, str(run), mode, str(problem)],
        cwd=ROOT,
        capture_output=True,
        timeout=120,
    )
    assert proc.returncode == -signal.SIGKILL, proc.stderr.decode()[-2000:]
    committed = json.loads((run / "checkpoint.json").read_text())["database"]
    delta = run / "database" / committed["delta"]
    if mode == "delta":  # the torn append lies past the committed length
        assert delta.stat().st_size > committed["bytes"]
    else:  # the new base never got its name
        assert list((run / "database").glob(".base-*.json.tmp"))
    programs = json.loads((run / "checkpoint.json").read_text())["controller"]["programs"]

    # The same calls, never interrupted, up to the last commit the killed run made.
    reference = Writer.create(tmp_path / "reference", problem)
    reference.grow(1, programs - 1, commit_every=10)
    resumed = Writer.resume(run)
    assert delta.stat().st_size == committed["bytes"] or mode == "base"
    assert not list((run / "database").glob(".*.tmp"))
    assert sorted(p.name for p in (run / "database").iterdir()) == sorted(
        [committed["base"], committed["delta"]]
    )
    assert resumed.db.snapshot() == reference.db.snapshot()
    # Both continue alike, and the resumed run's own checkpoints restore alike.
    assert database_log.COMPACT_MIN > 50
    reference.grow(programs, 30, commit_every=10)
    resumed.grow(programs, 30, commit_every=10)
    assert resumed.observed == reference.observed[-len(resumed.observed) :]
    assert Writer.resume(run).db.snapshot() == reference.db.snapshot()
