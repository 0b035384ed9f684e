"""Shipped problems: each loads, its seed scores on both sandboxes (the same
numbers), twin scorers stay one source, and each runs offline from the CLI.

The per-problem reference checks are in test_circle_packing.py,
test_bin_packing.py and test_symbolic_regression.py."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

from evolve.config import load_problem
from sandboxes.job import Sandbox, Status
from tests.problems.helpers import PROBLEMS, ROOT, SHIPPED, score


def test_the_expected_problems_are_shipped() -> None:
    assert {
        "function_minimization",
        "circle_packing_26",
        "circle_packing_32",
        "bin_packing_or3",
        "bin_packing_weibull5k",
        "symbolic_regression",
    } <= set(SHIPPED)


@pytest.mark.parametrize("problem", SHIPPED)
def test_every_seed_scores_in_the_process_sandbox(process_box: Sandbox, problem: str) -> None:
    result = score(process_box, problem)
    assert result.status == Status.OK, result.reason
    objective = load_problem(PROBLEMS / problem).spec.objective.metric
    assert math.isfinite(result.metrics[objective])


# The seed scores the READMEs quote (the README table and each problem's own).
SEED_SCORES = {
    "circle_packing_26": 2.3395,
    "circle_packing_32": 2.5735,
    "bin_packing_or3": 5.3678,
    "bin_packing_weibull5k": 3.9843,
    "symbolic_regression": 0.7600,
}


@pytest.mark.parametrize("problem", sorted(SEED_SCORES))
def test_each_seed_scores_what_the_readme_says(process_box: Sandbox, problem: str) -> None:
    result = score(process_box, problem)
    assert result.status == Status.OK, result.reason
    objective = load_problem(PROBLEMS / problem).spec.objective.metric
    assert round(result.metrics[objective], 4) == SEED_SCORES[problem]


@pytest.mark.parametrize("problem", SHIPPED)
def test_every_seed_scores_the_same_in_the_docker_sandbox(
    process_box: Sandbox, docker_box: Sandbox, problem: str
) -> None:
    in_docker = score(docker_box, problem)
    assert in_docker.status == Status.OK, in_docker.reason
    if problem != "function_minimization":  # its search is timed, so not bit-reproducible
        assert in_docker.metrics == score(process_box, problem).metrics


# -- one source for the scorers that differ only in their data ---------------------


@pytest.mark.parametrize(
    ("a", "b", "allowed"),
    [
        ("circle_packing_26", "circle_packing_32", {"N = ", '"""Scorer for'}),
        (
            "bin_packing_or3",
            "bin_packing_weibull5k",
            {"DATASET = ", "CALL_TIMEOUT_S = ", '"""Scorer for'},
        ),
    ],
)
def test_twin_scorers_differ_only_in_their_constants(a: str, b: str, allowed: set[str]) -> None:
    left = (PROBLEMS / a / "scorer.py").read_text().splitlines()
    right = (PROBLEMS / b / "scorer.py").read_text().splitlines()
    assert len(left) == len(right)
    for x, y in zip(left, right, strict=True):
        assert x == y or any(x.startswith(p) and y.startswith(p) for p in allowed), (x, y)


# -- the CLI, end to end, on both sandboxes -----------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("sandbox", ["process", "docker"])
@pytest.mark.parametrize("problem", SHIPPED)
def test_every_problem_runs_offline_via_the_cli(tmp_path: Path, problem: str, sandbox: str) -> None:
    out = tmp_path / "run"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "evolve.cli",
            "run",
            str(PROBLEMS / problem),
            "--iterations",
            "3",
            "--sandbox",
            sandbox,
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "best score:" in done.stdout
    assert json.loads((out / "run.json").read_text())["sandbox"] == sandbox
