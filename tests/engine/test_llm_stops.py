"""Stops that stop, end to end: `evolve run` against the real OpenAI-compatible
server whose every completion hangs (it holds the request for ``HANG_S`` and
never answers). ``--max-time`` and a single Ctrl-C each end the run long before
any hang or HTTP timeout would (the defaults: 120 s per attempt, 5 retries); the
cancelled calls are rows of the llm_calls table, and their iterations are left
unsettled in the checkpoint for a resume to redo.

The bounds are behavioural: a run that ends at all before the hangs do was
stopped by its deadline or signal, not by the endpoint giving up.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from evolve.records import EventKind
from evolve.store import RunStore
from evolve.testing import FaultPlan, MutatorServer, serve_in_thread
from tests.problem_factory import write_problem

REPO = Path(__file__).resolve().parents[2]
HANG_S = 300.0  # each completion hangs this long (the run's attempt timeout is 120 s)
EXIT_BOUND_S = 60.0  # start-up, the seed's evaluation, the stop and the final commit

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]


def hanging_server() -> MutatorServer:
    """The start-up check (the first request) is answered; every later one hangs."""
    return serve_in_thread(
        faults=FaultPlan(fail_rate=1.0, weights={"hang": 1.0}, script=("ok",), hang_s=HANG_S)
    )


def start(problem: Path, server: MutatorServer, out: Path, *extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "evolve.cli",
            "run",
            str(problem),
            "--model",
            server.model,
            "--base-url",
            server.base_url,
            "--api-key-env",
            "",
            "--iterations",
            "1000",
            "--concurrency",
            "2",
            "--proposals",
            "2",
            "--out",
            str(out),
            *extra,
        ],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )


def finish(proc: subprocess.Popen[str], timeout: float) -> tuple[str, str]:
    """The process's output once it exits within ``timeout`` s (killed and failed if not)."""
    try:
        return proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        pytest.fail(f"the run did not exit within {timeout:.0f} s\nstdout:\n{out}\nstderr:\n{err}")


def check_cancelled(run_dir: Path, reason: str, unsettled: int = 2) -> None:
    """Both calls (M = 2) were cancelled and recorded; their iterations, and the
    ``unsettled`` ones drawn in all, are left for a resume."""
    store = RunStore.open(run_dir)
    rows = store.read_table("llm_calls").to_pylist()
    checks = [c for c in rows if c["edit_kind"] == "preflight"]
    assert len(checks) == 1, checks  # the start-up check of the one model, recorded too
    calls = [c for c in rows if c["edit_kind"] != "preflight"]
    assert len(calls) == 2, calls  # M = 2 in flight; no call ever got an answer
    assert all(c["error"].startswith("cancelled") for c in calls), calls
    assert all(c["cost_usd"] == 0 and c["latency_s"] < HANG_S / 2 for c in calls)
    checkpoint = store.load_checkpoint()
    assert checkpoint is not None
    assert checkpoint["controller"]["stop_reason"] == reason
    assert checkpoint["controller"]["rejected_edits"] == 0
    assert sorted(u["iteration"] for u in checkpoint["unsettled"]) == list(range(1, unsettled + 1))
    events = store.load_events()
    assert not [e for e in events if e["kind"] == EventKind.EDIT_REJECTED]
    assert [e["payload"]["stop_reason"] for e in events if e["kind"] == EventKind.STOP] == [reason]


@pytest.mark.parametrize("schedule", [(), ("--deterministic",)], ids=["pipeline", "ordered"])
def test_max_time_ends_a_run_whose_endpoint_hangs(tmp_path: Path, schedule: tuple[str]) -> None:
    problem = write_problem(tmp_path / "tiny")
    with hanging_server() as server:
        started = time.monotonic()
        proc = start(problem, server, tmp_path / "run", "--max-time", "5", *schedule)
        out, err = finish(proc, EXIT_BOUND_S)
        elapsed = time.monotonic() - started
        assert server.stats["hang"] == 2, server.stats
    assert proc.returncode == 0, err
    assert "stopped: max_time" in out, out
    assert 5 <= elapsed < EXIT_BOUND_S
    # The ordered schedule's window is K + M = 4: two more drawn, waiting for a slot.
    check_cancelled(tmp_path / "run", "max_time", unsettled=4 if schedule else 2)


def test_one_ctrl_c_ends_a_run_whose_endpoint_hangs(tmp_path: Path) -> None:
    problem = write_problem(tmp_path / "tiny")
    with hanging_server() as server:
        proc = start(problem, server, tmp_path / "run")
        waited = time.monotonic()
        while server.stats["hang"] < 2:  # both slots are now waiting on a reply
            if proc.poll() is not None or time.monotonic() - waited > EXIT_BOUND_S:
                proc.kill()
                pytest.fail(f"the run never reached its LLM calls:\n{proc.communicate()}")
            time.sleep(0.05)
        time.sleep(0.5)
        interrupted = time.monotonic()
        proc.send_signal(signal.SIGINT)
        out, err = finish(proc, EXIT_BOUND_S / 2)
        elapsed = time.monotonic() - interrupted
    assert proc.returncode == 0, err
    assert "stopped: interrupted" in out, out
    assert elapsed < EXIT_BOUND_S / 2
    check_cancelled(tmp_path / "run", "interrupted")
