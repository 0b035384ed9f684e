"""A seed that scores while its scorer swallowed an error is called out, by
`evolve eval` and at the start of `evolve run`, before any LLM call is spent."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from evolve.cli.main import main
from evolve.engine.seed_check import suspicious_seed
from tests.problem_factory import write_problem

SWALLOWING_SCORER = """
def evaluate(program_path):
    try:
        import a_package_nobody_installed  # noqa: F401
    except Exception as exc:
        return {"score": 0.0, "error": f"{type(exc).__name__}: {exc}"}
    return {"score": 1.0}
"""


@pytest.mark.parametrize(
    ("metrics", "artifacts", "expected"),
    [
        ({"score": 0.0}, {"error": "No module named 'scipy'"}, "it returned 'error'"),
        ({"score": 0.3}, {"traceback": "Traceback (most recent..."}, "'traceback'"),
        (
            {"score": 0.3},
            {"log": "trial 1\nValueError: math domain error\n"},
            "its 'log' reads like an exception: ValueError: math domain error",
        ),
        ({"a": 0.0, "b": 0.0}, {}, "every metric is 0 (a, b)"),
        ({"score": 0.0}, {"stage": "ok"}, "every metric is 0"),
    ],
)
def test_what_looks_like_a_swallowed_error(
    metrics: dict[str, float], artifacts: dict[str, str], expected: str
) -> None:
    warning = suspicious_seed("ok", metrics, artifacts)
    assert warning is not None and expected in warning
    assert "evolve eval" in warning


@pytest.mark.parametrize(
    ("status", "metrics", "artifacts"),
    [
        ("ok", {"score": 0.7, "size": 0.0}, {"notes": "converged in 12 steps"}),
        ("ok", {"score": 0.0, "size": 3.0}, {}),  # one zero is a score, not a failure
        ("error", {}, {"traceback": "Traceback (most recent call last)"}),  # says so itself
        ("ok", {}, {}),
    ],
)
def test_an_honest_result_is_not_flagged(
    status: str, metrics: dict[str, float], artifacts: dict[str, str]
) -> None:
    assert suspicious_seed(status, metrics, artifacts) is None


def test_eval_and_run_say_so_at_once(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    problem = write_problem(tmp_path / "problem", scorer=SWALLOWING_SCORER)
    assert main(["eval", str(problem)]) == 0  # it did score
    out = capsys.readouterr().out
    assert "WARNING: the seed scored, but it returned 'error' (ModuleNotFoundError" in out
    assert main(["eval", str(problem), "--json"]) == 0
    assert "a_package_nobody_installed" in json.loads(capsys.readouterr().out)["warning"]
    with caplog.at_level(logging.WARNING, logger="evolve.engine.controller"):
        code = main(["run", str(problem), "--iterations", "2", "--out", str(tmp_path / "run")])
    assert code == 0
    warned = [r for r in caplog.records if "the seed scored, but" in r.getMessage()]
    assert len(warned) == 1 and "initial.py" in warned[0].getMessage()
