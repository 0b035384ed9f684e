"""The whole loop through the real CLI: run, show, resume, eval, Ctrl-C."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from tests.problem_factory import write_problem

REPO = Path(__file__).resolve().parents[2]


def evolve(*args: str, check: bool = True, timeout: float = 300) -> subprocess.CompletedProcess:
    proc = subprocess.run(
        [sys.executable, "-m", "evolve.cli", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"evolve {args} failed ({proc.returncode}):\n{proc.stderr}")
    return proc


def program_rows(run_dir: Path) -> list[dict]:
    """Every recorded program of a run, by id."""
    rows = pq.ParquetDataset(run_dir / "programs").read().to_pylist()
    return sorted(rows, key=lambda r: r["id"])


def show(run_dir: Path) -> dict:
    return json.loads(evolve("show", str(run_dir), "--json", "--top", "50").stdout)


@pytest.fixture
def tiny(tmp_path):
    return write_problem(tmp_path / "tiny")


def test_run_show_resume(tmp_path, tiny):
    run_dir = tmp_path / "run"
    out = evolve("run", str(tiny), "--iterations", "30", "--out", str(run_dir), "--seed", "3")
    assert "best score" in out.stdout
    summary = show(run_dir)
    assert summary["evaluated"] >= 31
    assert summary["best_score"] > summary["seed_score"]
    assert summary["statuses"].get("ok", 0) >= 1

    evolve("resume", str(run_dir), "--iterations", "10")
    after = show(run_dir)
    assert after["evaluated"] == summary["evaluated"] + 10
    rows = program_rows(run_dir)
    assert sum(r["edit_kind"] == "seed" for r in rows) == 1
    ids = [r["id"] for r in rows]
    assert len(ids) == len(set(ids))
    # every child's parent is a recorded program: the lineage is whole
    known = set(ids)
    assert all(set(r["parent_ids"]) <= known for r in rows)


def test_same_seed_gives_the_same_run(tmp_path, tiny):
    scores = []
    for name in ("a", "b"):
        run_dir = tmp_path / name
        evolve(
            "run",
            str(tiny),
            "--iterations",
            "12",
            "--out",
            str(run_dir),
            "--seed",
            "5",
            "--concurrency",
            "1",
        )
        rows = program_rows(run_dir)
        scores.append([(r["id"], r["score"], r["code_hash"]) for r in rows])
    assert scores[0] == scores[1]


def test_eval_prints_json_for_a_program(tmp_path, tiny):
    program = tmp_path / "better.py"
    program.write_text((tiny / "initial.py").read_text().replace("x = 2.0", "x = 6.0"))
    proc = evolve("eval", str(tiny), "--program", str(program), "--json")
    report = json.loads(proc.stdout)
    assert report["status"] == "ok"
    assert report["metrics"]["score"] == pytest.approx(-1.0)
    assert report["score"] == pytest.approx(-1.0)


def test_eval_of_a_failing_program_reports_status_and_exit_code(tmp_path, tiny):
    program = tmp_path / "bad.py"
    program.write_text("def value():\n    raise RuntimeError('nope')\n")
    proc = evolve("eval", str(tiny), "--program", str(program), "--json", check=False)
    assert proc.returncode == 1
    report = json.loads(proc.stdout)
    assert report["status"] == "error"
    assert "nope" in json.dumps(report["artifacts"])


def test_broken_scorer_stops_the_run_with_the_reason_and_keeps_the_record(tmp_path):
    scorer = "def evaluate(program_path):\n    raise KeyError('missing data file')\n"
    root = write_problem(tmp_path / "broken", scorer=scorer)
    run_dir = tmp_path / "run"
    proc = evolve("run", str(root), "--iterations", "5", "--out", str(run_dir), check=False)
    assert proc.returncode == 2
    assert "seed" in proc.stderr and "missing data file" in proc.stderr
    assert "evolve eval" in proc.stderr
    assert show(run_dir)["programs"] == 1


def test_malformed_problem_gives_a_one_line_error(tmp_path):
    root = write_problem(tmp_path / "p", toml='name = "x"\nbogus = 1\n')
    proc = evolve("run", str(root), "--out", str(tmp_path / "run"), check=False)
    assert proc.returncode == 2
    assert "unknown key 'bogus'" in proc.stderr
    assert "Traceback" not in proc.stderr


@pytest.mark.slow
def test_ctrl_c_stops_cleanly_and_the_run_resumes(tmp_path, tiny):
    run_dir = tmp_path / "run"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "evolve.cli",
            "run",
            str(tiny),
            "--iterations",
            "100000",
            "--out",
            str(run_dir),
        ],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if (run_dir / "checkpoint.json").exists() and show(run_dir)["evaluated"] >= 5:
            break
        time.sleep(0.2)
    os.kill(proc.pid, signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 0, stderr
    assert "stopped: interrupted" in stdout
    before = show(run_dir)
    assert before["stop_reason"] == "interrupted"
    evolve("resume", str(run_dir), "--iterations", "3")
    assert show(run_dir)["evaluated"] == before["evaluated"] + 3


@pytest.mark.slow
def test_shipped_problem_improves_offline(tmp_path):
    run_dir = tmp_path / "run"
    evolve("run", "problems/function_minimization", "--iterations", "30", "--out", str(run_dir))
    summary = show(run_dir)
    assert summary["evaluated"] >= 31
    assert summary["best_score"] > summary["seed_score"]
    assert len(summary["programs_per_island"]) >= 2


def test_openevolve_folder_runs_unchanged(tmp_path):
    root = tmp_path / "oe"
    root.mkdir()
    (root / "initial_program.py").write_text(
        "# EVOLVE-BLOCK-START\ndef value():\n    return 2.0 * 1.5\n# EVOLVE-BLOCK-END\n"
    )
    # The OpenEvolve habit: import the candidate in the evaluator's own process,
    # return combined_score plus a string field.
    (root / "evaluator.py").write_text(
        "import importlib.util\n"
        "def evaluate(program_path):\n"
        "    spec = importlib.util.spec_from_file_location('m', program_path)\n"
        "    m = importlib.util.module_from_spec(spec)\n"
        "    spec.loader.exec_module(m)\n"
        "    v = m.value()\n"
        "    return {'combined_score': -abs(v - 10.0), 'value': v, 'note': 'ok'}\n"
    )
    (root / "config.yaml").write_text("max_iterations: 5\ndatabase:\n  num_islands: 2\n")
    run_dir = tmp_path / "run"
    evolve("run", str(root), "--iterations", "15", "--out", str(run_dir))
    summary = show(run_dir)
    assert summary["evaluated"] == 16
    assert summary["best_score"] >= summary["seed_score"] == pytest.approx(-7.0)
    assert set(summary["programs_per_island"]) <= {"0", "1"}


def test_deterministic_schedule_gives_the_same_lineage_at_any_timing(tmp_path, tiny):
    lineages = []
    for name in ("a", "b"):
        run_dir = tmp_path / name
        evolve(
            "run",
            str(tiny),
            "--iterations",
            "25",
            "--out",
            str(run_dir),
            "--seed",
            "9",
            "--concurrency",
            "3",
            "--deterministic",
        )
        rows = program_rows(run_dir)
        lineages.append(
            [(r["id"], tuple(r["parent_ids"]), r["code_hash"], r["duplicate_of"]) for r in rows]
        )
    assert lineages[0] == lineages[1]
    assert len(lineages[0]) >= 26
