"""`evolve run/resume --executor ray` from the command line and from a stopped run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from evolve.cli.main import USER_ERROR_EXIT_CODE, main
from evolve.engine.controller import RunLimits
from evolve.engine.runner import RunOptions, resume_run, start_run
from tests.executors.ray.conftest import SimCluster
from tests.problem_factory import write_problem

REPO = Path(__file__).resolve().parents[3]


def evolve(*args: str, env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "evolve.cli", *args],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def evaluated_children(run_dir: Path) -> list[dict]:
    rows = pq.read_table(run_dir / "programs").to_pylist()
    children = [r for r in rows if r["iteration"]]
    assert len({r["iteration"] for r in children}) == len(children)
    assert len({r["id"] for r in rows}) == len(rows)
    return [r for r in children if not r["duplicate_of"]]


def ray_processes_of(pid: int) -> list[str]:
    """Processes of the Ray session a driver with ``pid`` started (the session name ends in it)."""
    out = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout
    return [line for line in out.splitlines() if f"_{pid}/" in line or f"_{pid} " in line]


@pytest.mark.slow
def test_cli_run_on_a_local_ray_instance_leaves_no_ray_behind(tmp_path: Path) -> None:
    problem = write_problem(tmp_path / "problem")
    out = tmp_path / "run"
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
    args = ("run", str(problem), "--executor", "ray", "--iterations", "6", "--concurrency", "2")
    proc = evolve(*args, "--seed", "1", "--out", str(out), env=env)
    stdout, stderr = proc.communicate(timeout=300)
    assert proc.returncode == 0, stderr
    assert "stopped: iterations" in stdout
    assert json.loads((out / "run.json").read_text())["executor"] == "ray"
    assert len(evaluated_children(out)) == 6
    deadline = time.monotonic() + 30
    while ray_processes_of(proc.pid) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert not ray_processes_of(proc.pid)


@pytest.mark.slow
def test_cli_run_inside_a_ray_job_joins_its_cluster(
    sim_cluster: SimCluster, tmp_path: Path
) -> None:
    # `ray job submit` runs the entrypoint with RAY_ADDRESS set: no --ray-address needed.
    problem = write_problem(tmp_path / "problem")
    out = tmp_path / "run"
    env = {**os.environ, "RAY_ADDRESS": sim_cluster.cluster.address}
    args = ("run", str(problem), "--executor", "ray", "--iterations", "4", "--concurrency", "2")
    proc = evolve(*args, "--out", str(out), env=env)
    _, stderr = proc.communicate(timeout=300)
    assert proc.returncode == 0, stderr
    assert len(evaluated_children(out)) == 4


def test_a_local_run_resumes_on_the_cluster(sim_cluster: SimCluster, tmp_path: Path) -> None:
    problem = write_problem(tmp_path / "problem")
    out = tmp_path / "run"
    start_run(problem, out, RunOptions(seed=2), RunLimits(evaluations=4, concurrency=2))
    outcome = resume_run(
        out,
        RunLimits(evaluations=4, concurrency=2),
        executor="ray",
        ray_address=sim_cluster.cluster.address,
    )
    assert outcome.progress.stop_reason == "iterations"
    assert len(evaluated_children(out)) == 8


@pytest.mark.parametrize(
    ("address", "expected"),
    [
        ("127.0.0.1:1", "cannot reach the Ray cluster at 127.0.0.1:1"),
        ("no-port-here", "is not HOST:PORT"),
    ],
)
def test_an_unreachable_cluster_is_a_clear_error_within_seconds(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], address: str, expected: str
) -> None:
    """Ray itself retries an address that does not answer for minutes, then
    fails with a traceback; evolve checks it first (loopback only here)."""
    problem = write_problem(tmp_path / "problem")
    out = tmp_path / "run"
    started = time.monotonic()
    args = ["run", str(problem), "--executor", "ray", "--ray-address", address, "--out", str(out)]
    assert main(args) == USER_ERROR_EXIT_CODE
    assert time.monotonic() - started < 30
    assert expected in capsys.readouterr().err
    assert not out.exists()  # nothing left behind
