"""`evolve run/eval --sandbox docker` end to end through the real CLI, on a shipped problem.

Runs against the real daemon (`make test` starts one) and never skips.
"""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from sandboxes.docker import reaper
from sandboxes.docker.image import docker_client

REPO = Path(__file__).resolve().parents[3]
PROBLEM = REPO / "problems" / "function_minimization"


def evolve(*args: str) -> subprocess.CompletedProcess:
    proc = subprocess.run(
        [sys.executable, "-m", "evolve.cli", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, f"evolve {args} failed ({proc.returncode}):\n{proc.stderr}"
    return proc


@pytest.mark.slow
def test_evolve_run_with_the_docker_sandbox(tmp_path: Path) -> None:
    run_dir = tmp_path / f"docker-run-{uuid.uuid4().hex[:8]}"  # its name labels its containers
    out = evolve(
        "run", str(PROBLEM), "--sandbox", "docker", "--iterations", "20", "--out", str(run_dir)
    )
    assert "best score" in out.stdout
    summary = json.loads(evolve("show", str(run_dir), "--json").stdout)
    assert summary["evaluated"] >= 21
    assert summary["statuses"].get("ok", 0) >= 10  # offline edits break a few; most score
    assert summary["best_score"] >= summary["seed_score"]
    # The run's containers (labelled with the run directory's name) went with it.
    labels = [f"{reaper.LABEL}=1", f"{reaper.RUN_LABEL}={run_dir.name}"]
    assert docker_client().containers.list(all=True, filters={"label": labels}) == []


def test_evolve_eval_with_the_docker_sandbox() -> None:
    out = evolve("eval", str(PROBLEM), "--sandbox", "docker")
    assert "status: ok" in out.stdout
