"""Peers' own example problems, copied unchanged (tests/problems/peers/), run in
both sandboxes: what their scorers import from their frameworks is provided
(evaluators/compat), so they score as they do at home."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

from evaluators import harness
from evaluators.results import normalize
from evolve.config import load_problem
from sandboxes.job import Sandbox, Status

PEERS = Path(__file__).resolve().parent / "peers"
FUNCTION_MINIMIZATION = PEERS / "openevolve_function_minimization"
CIRCLE_PACKING = PEERS / "openevolve_circle_packing_with_artifacts"


@pytest.fixture(params=["process", "docker"])
def box(request: pytest.FixtureRequest) -> Sandbox:
    return request.getfixturevalue(f"{request.param}_box")


def test_openevolves_function_minimization_scores_unchanged(box: Sandbox) -> None:
    loaded = load_problem(FUNCTION_MINIMIZATION)
    assert loaded.layout == "openevolve"
    result = box.run(loaded.make_job("seed", loaded.initial_path.read_text()))
    assert result.status == Status.OK, result.reason
    # its evaluator returns openevolve.evaluation_result.EvaluationResult
    assert result.metrics["combined_score"] > 0  # its seed searches at random: any positive
    assert result.metrics["runs_successfully"] == 1.0
    assert "stage1_result" in result.artifacts  # the EvaluationResult's artifacts


@pytest.fixture(scope="module")
def circle_packing_at_home() -> dict[str, float]:
    """What OpenEvolve gives the seed (deterministic), run here with the
    stand-in module: its config cascades, and the seed's stage 1 (0.36) is below
    the first threshold (0.5), so OpenEvolve's result is evaluate_stage1's."""
    compat = harness.compat_dir()
    assert compat is not None
    sys.path.append(compat)
    try:
        spec = importlib.util.spec_from_file_location("cp_home", CIRCLE_PACKING / "evaluator.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        result = module.evaluate_stage1(str(CIRCLE_PACKING / "initial_program.py"))
    finally:
        sys.path.remove(compat)
    return dict(result.metrics)


def test_openevolves_circle_packing_scores_what_it_scores_at_home(
    box: Sandbox, circle_packing_at_home: dict[str, float]
) -> None:
    loaded = load_problem(CIRCLE_PACKING)
    result = box.run(loaded.make_job("seed", loaded.initial_path.read_text()))
    assert result.status == Status.OK, result.reason
    home = {
        k: float(v)
        for k, v in circle_packing_at_home.items()
        if isinstance(v, int | float) and k != "eval_time"  # a wall-clock time
    }
    assert 0 < home["combined_score"] < 0.5 and result.stage_reached == 1  # stopped there too
    assert {k: result.metrics[k] for k in home} == home  # exactly, every other number


@pytest.fixture
def openevolve_importable(monkeypatch: pytest.MonkeyPatch) -> None:
    compat = harness.compat_dir()
    assert compat is not None, "evaluators/compat is missing"
    monkeypatch.syspath_prepend(compat)
    for name in [m for m in sys.modules if m == "openevolve" or m.startswith("openevolve.")]:
        monkeypatch.delitem(sys.modules, name)


@pytest.mark.usefixtures("openevolve_importable")
def test_the_evaluation_result_stand_in_behaves_like_openevolves() -> None:
    from openevolve.evaluation_result import EvaluationResult

    result = EvaluationResult(
        metrics={"combined_score": 0.5}, artifacts={"log": "ü", "blob": b"\x00\xffok"}
    )
    assert result.to_dict() == {"combined_score": 0.5} and result.has_artifacts()
    assert result.get_artifact_keys() == ["log", "blob"]
    assert result.get_artifact_size("log") == 2 and result.get_total_artifact_size() == 6
    assert EvaluationResult.from_dict({"a": 1.0}).artifacts == {}
    outcome = normalize(result, "evaluator.py:evaluate")
    assert outcome.status == Status.OK and outcome.metrics == {"combined_score": 0.5}
    assert outcome.artifacts["blob"] == "\x00\ufffdok"  # bytes read as text


@pytest.mark.usefixtures("openevolve_importable")
def test_the_rest_of_openevolve_says_it_is_not_provided() -> None:
    with pytest.raises(ImportError, match=r"provides only openevolve\.evaluation_result"):
        from openevolve import Config  # noqa: F401
