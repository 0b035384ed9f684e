"""normalize() (scorer return values) and the strict numeric helpers, in-process."""

from __future__ import annotations

import math

import pytest

from evaluators import InvalidCandidate, as_float, require_finite_array
from evaluators.contract import MAX_ARTIFACT_CHARS, Status
from evaluators.results import MAX_SCORER_ARTIFACTS, normalize


def test_numbers_bools_and_numpy_scalars_become_floats() -> None:
    np = pytest.importorskip("numpy")
    outcome = normalize({"a": 1, "b": True, "c": np.int64(3), "d": np.float32(0.5)}, "s.py:f")
    assert outcome.status == Status.OK
    assert outcome.metrics == {"a": 1.0, "b": 1.0, "c": 3.0, "d": 0.5}
    assert all(type(v) is float for v in outcome.metrics.values())


def test_openevolve_evaluation_result_object_is_accepted() -> None:
    class EvaluationResult:  # the shape of openevolve.evaluation_result.EvaluationResult
        def __init__(self) -> None:
            self.metrics = {"combined_score": 0.7}
            self.artifacts = {"stderr": "warn"}

    outcome = normalize(EvaluationResult(), "evaluator.py:evaluate")
    assert outcome.status == Status.OK
    assert outcome.metrics == {"combined_score": 0.7}
    assert outcome.artifacts == {"stderr": "warn"}


def test_openevolves_looser_shapes_score_as_they_do_there() -> None:
    class EvaluationResult:
        def __init__(self) -> None:
            self.metrics = {"combined_score": 0.0, "runs_successfully": 0.0, "error": "Timeout"}
            self.artifacts = {"suggestion": "add early termination"}

    # a text metric is left out of the numbers (OpenEvolve's fitness ignores it): an artifact
    outcome = normalize(EvaluationResult(), "evaluator.py:evaluate")
    assert outcome.status == Status.OK
    assert outcome.metrics == {"combined_score": 0.0, "runs_successfully": 0.0}
    assert outcome.artifacts == {"error": "Timeout", "suggestion": "add early termination"}
    # a plain dict carrying a nested artifacts dict
    nested = normalize({"combined_score": 0.4, "artifacts": {"log": "ok"}}, "evaluator.py:f")
    assert nested.status == Status.OK and nested.metrics == {"combined_score": 0.4}
    assert nested.artifacts == {"log": "ok"}
    # evolve's own {"metrics", "artifacts"} form stays strict
    strict = normalize({"metrics": {"score": "high"}, "artifacts": {}}, "scorer.py:evaluate")
    assert strict.status == Status.ERROR and "metrics must be numbers" in strict.reason


def test_too_many_entries_is_refused_before_looking_at_them() -> None:
    class Exploding(dict):
        def items(self):  # normalize must not iterate a dict it refuses by size
            raise AssertionError("iterated")

    huge = Exploding({f"m{i}": 1.0 for i in range(10_000)})
    outcome = normalize(huge, "s.py:f")
    assert outcome.status == Status.ERROR
    assert "10000 entries" in outcome.reason


def test_too_many_artifacts_and_long_names_are_errors() -> None:
    artifacts = {f"a{i}": "x" for i in range(MAX_SCORER_ARTIFACTS + 1)}
    assert normalize({"metrics": {}, "artifacts": artifacts}, "f").status == Status.ERROR
    assert "1..128" in normalize({"x" * 129: 1.0}, "f").reason


def test_long_artifact_is_clipped_keeping_head_and_tail() -> None:
    outcome = normalize({"log": "HEAD" + "x" * 10**6 + "TAIL"}, "f")
    text = outcome.artifacts["log"]
    assert len(text) <= MAX_ARTIFACT_CHARS
    assert text.startswith("HEAD") and text.endswith("TAIL")


def test_non_finite_metrics_are_invalid_but_finite_ones_kept() -> None:
    outcome = normalize({"score": 2.0, "bad": math.nan, "worse": -math.inf}, "s.py:evaluate")
    assert outcome.status == Status.INVALID
    assert "bad=nan" in outcome.reason and "worse=-inf" in outcome.reason
    assert outcome.metrics == {"score": 2.0}


def test_as_float_rejects_everything_but_finite_numbers() -> None:
    assert as_float(3, "n") == 3.0
    for bad in (True, "1.0", None, [1.0], math.nan, math.inf, 10**400):
        with pytest.raises(InvalidCandidate, match="radius"):
            as_float(bad, "radius")
    assert issubclass(InvalidCandidate, ValueError)


def test_require_finite_array_checks_shape_and_values() -> None:
    assert require_finite_array([[1, 2], [3, 4]], "c", shape=(None, 2)) == [[1.0, 2.0], [3.0, 4.0]]
    with pytest.raises(InvalidCandidate, match=r"c\[1\] has length 3, expected 2"):
        require_finite_array([[1, 2], [3, 4, 5]], "c", shape=(None, 2))
    np = pytest.importorskip("numpy")
    with pytest.raises(InvalidCandidate, match="has 2 items, more than 1"):
        require_finite_array(np.zeros(2), "c", max_items=1)
    with pytest.raises(InvalidCandidate, match="must be a list or an array, got float"):
        require_finite_array(1.0, "c")
    with pytest.raises(InvalidCandidate, match="too many items"):
        require_finite_array([[0.0] * 5] * 5, "c", max_items=10)
