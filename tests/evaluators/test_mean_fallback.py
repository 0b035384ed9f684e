"""OpenEvolve's rules when a scorer returns no ``combined_score``, as the harness
applies them under ``[objective] fallback = "mean"`` (every OpenEvolve folder):

* a cascade threshold compares the mean of that stage's numbers but ``error``
  (OpenEvolve's ``_passes_threshold``: booleans count there);
* the objective is the mean of the numbers, booleans (flags) and feature
  metrics left out (its ``get_fitness_score``), written down as the objective
  with an artifact that says how it was made.
"""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from evaluators import harness
from sandboxes.job import Stage, Status
from sandboxes.process import ProcessSandbox
from tests.sandboxes.jobs import make_job

PROGRAM = "def solve():\n    return 1\n"


def _job(scorer: str, stages: tuple[Stage, ...] = (Stage("evaluate"),), **fields: object):
    job = make_job(PROGRAM, scorer, stages=stages)
    return dataclasses.replace(job, objective="combined_score", objective_fallback="mean", **fields)


def test_flags_and_features_stay_out_of_the_objective(sandbox: ProcessSandbox) -> None:
    scorer = (
        "def evaluate(p):\n"
        "    return {'accuracy': 0.8, 'speed': 0.4, 'valid': True, 'length': 120}\n"
    )
    result = sandbox.run(_job(scorer, feature_metrics=("length",)))
    assert result.status == Status.OK, result.reason
    assert result.metrics["combined_score"] == pytest.approx(0.6)  # not (0.8+0.4+1+120)/4
    assert "the mean of accuracy, speed" in result.artifacts["objective"]
    assert result.metrics["valid"] == 1.0  # still a metric, just not in the mean


def test_without_the_fallback_a_missing_objective_is_left_missing(
    sandbox: ProcessSandbox,
) -> None:
    job = dataclasses.replace(
        _job("def evaluate(p):\n    return {'accuracy': 0.8}\n"), objective_fallback="none"
    )
    result = sandbox.run(job)
    assert "combined_score" not in result.metrics and "objective" not in result.artifacts


def test_a_returned_objective_is_never_replaced(sandbox: ProcessSandbox) -> None:
    scorer = "def evaluate(p):\n    return {'combined_score': 0.1, 'accuracy': 0.9}\n"
    result = sandbox.run(_job(scorer))
    assert result.metrics["combined_score"] == 0.1 and "objective" not in result.artifacts


CASCADE = """
def evaluate_stage1(p):
    return {"runs": True, "accuracy": STAGE1, "error": 0.0}

def evaluate_stage2(p):
    return {"accuracy": 0.9, "depth": 1.0}
"""


@pytest.mark.parametrize(
    ("stage1", "passes"),
    [(0.2, True), (0.0, True), (-0.2, False)],  # (True + stage1) / 2 >= 0.5, "error" left out
)
def test_thresholds_compare_the_stage_mean_as_openevolve_does(
    sandbox: ProcessSandbox, stage1: float, passes: bool
) -> None:
    stages = (Stage("evaluate_stage1", 0.5), Stage("evaluate_stage2"))
    result = sandbox.run(_job(CASCADE.replace("STAGE1", repr(stage1)), stages))
    assert result.status == Status.OK, result.reason
    assert result.stage_reached == (2 if passes else 1)
    # the flag "runs" left out; "error" is a plain number in the fitness mean
    expected = (0.9 + 0.0 + 1.0) / 3 if passes else (stage1 + 0.0) / 2
    assert result.metrics["combined_score"] == pytest.approx(expected)


@settings(max_examples=50, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(["a", "b", "c", "flag", "feat"]),
        st.one_of(st.booleans(), st.floats(-1e6, 1e6)),
        max_size=5,
    )
)
def test_the_objective_is_the_mean_of_the_plain_numbers(values: dict[str, object]) -> None:
    metrics = {k: float(v) for k, v in values.items()}  # type: ignore[arg-type]
    flags = {k for k, v in values.items() if isinstance(v, bool)}
    spec = {"objective": "combined_score", "fallback": "mean", "features": ["feat"]}
    envelope = harness._finish(dict(metrics), {}, 1, spec, flags)
    plain = [metrics[k] for k in metrics if k not in flags and k != "feat"]
    if plain:
        assert envelope["metrics"]["combined_score"] == pytest.approx(sum(plain) / len(plain))
    else:
        assert "combined_score" not in envelope["metrics"]  # nothing to average: invalid later
