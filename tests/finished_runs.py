"""Real runs for the tests that read, check or branch one: run once per module
(a module-scoped fixture calls ``finished_run``), copied per test (``copy_of``)
so a test that edits or extends its run leaves the others theirs."""

from __future__ import annotations

import shutil
from pathlib import Path

from evolve.engine.runner import RunOptions, start_run
from evolve.engine.state import RunLimits
from tests.problem_factory import write_problem


def finished_run(
    root: Path, seed: int, evaluations: int, concurrency: int = 2, problem: Path | None = None
) -> Path:
    """A deterministic run of ``problem`` (default: the tiny test problem) with
    ``evaluations`` children, at ``root / "run"``."""
    start_run(
        problem if problem is not None else write_problem(root / "problem"),
        root / "run",
        RunOptions(seed=seed, deterministic=True),
        RunLimits(evaluations=evaluations, concurrency=concurrency),
    )
    return root / "run"


def copy_of(run: Path, where: Path) -> Path:
    """A copy of the run directory ``run`` at ``where``."""
    return Path(shutil.copytree(run, where))
