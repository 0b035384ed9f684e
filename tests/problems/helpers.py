"""Shared helpers for the shipped-problem tests: score a program as a run would."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

from evolve.config import load_problem
from sandboxes.job import EvalResult, Sandbox

ROOT = Path(__file__).resolve().parents[2]
PROBLEMS = ROOT / "problems"
SHIPPED = sorted(p.name for p in PROBLEMS.iterdir() if (p / "problem.toml").exists())


def score(box: Sandbox, problem: str, code: str | None = None) -> EvalResult:
    """Score ``code`` (default: the problem's seed) through load_problem + make_job."""
    loaded = load_problem(PROBLEMS / problem)
    source = code if code is not None else loaded.initial_path.read_text()
    return box.run(loaded.make_job("test", source))


def scorer_module(problem: str) -> ModuleType:
    """The problem's scorer imported in this process, to unit-test its pure functions."""
    spec = importlib.util.spec_from_file_location(
        f"scorer_{problem}", PROBLEMS / problem / "scorer.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
