"""A run whose children hang, crash, fork, eat memory and flood stdout goes on:
each gets its own status, nothing scored is lost, and no process survives."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.problem_factory import write_problem

REPO = Path(__file__).resolve().parents[2]

# Outside the EVOLVE-BLOCK (fixed): what a candidate does depends on k % 6, and
# the offline mutator changes k, so the run meets every kind of misbehaviour.
SEED = textwrap.dedent(
    """\
    import os
    import sys
    import time

    MARK = "evolve-hostile-run-marker"


    def behave(k):
        kind = k % 6
        if kind == 0:
            while True:
                pass
        if kind == 1:
            os._exit(0)
        if kind == 2:
            blob = bytearray(10 * 1024**3)
            return len(blob)
        if kind == 3:
            sys.stdout.write("x" * (64 * 1024 * 1024))
            return 1.0
        if kind == 4:
            if os.fork() == 0:
                os.setsid()
                if os.fork() == 0:
                    os.execvp("sleep", ["sleep", "1000", MARK])
                os._exit(0)
            return 2.0
        return float(k)


    # EVOLVE-BLOCK-START
    def value():
        k = 11
        return behave(k)
    # EVOLVE-BLOCK-END
    """
)

SCORER = textwrap.dedent(
    """\
    from evaluators import call_candidate

    def evaluate(program_path):
        return {"score": float(call_candidate(program_path, "value", timeout_s=1.5))}
    """
)

TOML = 'name = "hostile"\n[evaluation]\ntimeout_s = 4\n[resources]\nmemory_mb = 512\n'


def _marked_processes() -> list[int]:
    """Pids whose command line carries the marker (read from /proc: no procps needed)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if b"evolve-hostile-run-marker" in cmdline and b"sleep" in cmdline:
            found.append(int(entry.name))
    return found


@pytest.mark.slow
def test_run_survives_hostile_children(tmp_path):
    root = write_problem(tmp_path / "hostile", toml=TOML, seed=SEED, scorer=SCORER)
    run_dir = tmp_path / "run"
    env = {**os.environ, "OPENAI_API_KEY": "sk-must-not-leak"}
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "evolve.cli",
            "run",
            str(root),
            "--iterations",
            "40",
            "--out",
            str(run_dir),
            "--seed",
            "1",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
    )
    assert proc.returncode == 0, proc.stderr
    show = subprocess.run(
        [sys.executable, "-m", "evolve.cli", "show", str(run_dir), "--json"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    )
    summary = json.loads(show.stdout)
    assert summary["evaluated"] == 41
    statuses = summary["statuses"]
    assert statuses.get("ok", 0) >= 1
    assert statuses.get("timeout", 0) >= 1
    assert sum(v for k, v in statuses.items() if k != "ok") >= 3
    # kind 4 (score 2.0) really ran: its setsid grandchild existed and was killed
    import pyarrow.parquet as pq

    scores = [r["score"] for r in pq.ParquetDataset(run_dir / "programs").read().to_pylist()]
    assert 2.0 in scores
    assert _marked_processes() == []
