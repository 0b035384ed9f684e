"""Noisy scorers: ``[evaluation] repeats`` and ``confirm_best``, alone and in a run."""

from __future__ import annotations

import asyncio
import json
import math
import textwrap

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from evolve import Run
from evolve.config import EvaluationSpec, ObjectiveSpec
from evolve.engine import RunLimits
from evolve.engine.repeats import combine_results, score_with_repeats
from evolve.engine.runner import RunOptions, start_run
from evolve.errors import ConfigError
from evolve.records import Status
from evolve.store import RunStore
from sandboxes.job import EvalResult, Probes
from tests.problem_factory import TOML, write_problem

OBJECTIVE = ObjectiveSpec(metric="score", direction="maximize")


def ok(score: float, **metrics: float) -> EvalResult:
    return EvalResult(Status.OK, {"score": score, **metrics}, wall_time_s=1.0, peak_memory_mb=10)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(-1e6, 1e6, allow_nan=False), min_size=2, max_size=8))
def test_combined_metrics_are_the_means_with_the_standard_error(scores):
    results = [ok(s, other=2 * s) for s in scores]
    combined = combine_results(results, OBJECTIVE)
    assert combined.status == Status.OK
    assert combined.metrics["score"] == pytest.approx(np.mean(scores), abs=1e-6)
    assert combined.metrics["other"] == pytest.approx(2 * np.mean(scores), abs=1e-6)
    expected = np.std(scores, ddof=1) / math.sqrt(len(scores))
    assert combined.metrics["score_stderr"] == pytest.approx(expected, abs=1e-6)
    assert combined.metrics["score_repeats"] == len(scores)
    assert len(json.loads(combined.artifacts["repeat_scores"])) == len(scores)
    assert combined.wall_time_s == pytest.approx(len(scores))


def test_one_result_is_itself_and_a_failure_fails_the_candidate():
    single = ok(1.0)
    assert combine_results([single], OBJECTIVE) is single
    failed = EvalResult(Status.ERROR, reason="boom")
    combined = combine_results([ok(1.0), failed, ok(3.0)], OBJECTIVE)
    assert combined.status == Status.ERROR and combined.reason == "boom"
    assert "run 2 of 3" in combined.artifacts["repeats"]
    with pytest.raises(ValueError):
        combine_results([], OBJECTIVE)


def test_probes_of_every_run_are_kept():
    first = EvalResult(
        Status.OK, {"score": 1.0}, probes=Probes({"network": 1}, ("net",), ("network",))
    )
    second = EvalResult(
        Status.OK,
        {"score": 2.0},
        probes=Probes({"network": 2, "write": 1}, ("net", "w"), ("network", "write")),
    )
    probes = combine_results([first, second], OBJECTIVE).probes
    assert probes is not None
    assert probes.counts == {"network": 3, "write": 1}
    assert probes.log == ("net", "w") and probes.seen == ("network", "write")


def runner(scores: list[float]):
    queue = list(scores)
    calls = []

    async def once() -> EvalResult:
        calls.append(1)
        return ok(queue.pop(0))

    return once, calls


def test_only_a_would_be_best_is_confirmed_and_a_lucky_draw_falls_back():
    spec = EvaluationSpec(repeats=1, confirm_best=3)
    once, calls = runner([10.0, 1.0, 1.0, 1.0])
    result, extra = asyncio.run(score_with_repeats(once, spec, OBJECTIVE, lambda: 5.0))
    assert extra == 3 and len(calls) == 4
    assert result.metrics["score"] == pytest.approx(13.0 / 4)  # no longer above the best
    once, calls = runner([4.0])
    result, extra = asyncio.run(score_with_repeats(once, spec, OBJECTIVE, lambda: 5.0))
    assert extra == 0 and result.metrics["score"] == 4.0
    spec = EvaluationSpec(repeats=2, confirm_best=1)
    once, calls = runner([6.0, 8.0, 7.0])
    result, extra = asyncio.run(score_with_repeats(once, spec, OBJECTIVE, lambda: None))
    assert extra == 2 and result.metrics["score"] == pytest.approx(7.0)


def test_minimizing_confirms_a_lower_score():
    minimize = ObjectiveSpec(metric="score", direction="minimize")
    once, _ = runner([1.0, 3.0])
    spec = EvaluationSpec(confirm_best=1)
    result, extra = asyncio.run(score_with_repeats(once, spec, minimize, lambda: -2.0))
    assert extra == 1 and result.metrics["score"] == pytest.approx(2.0)


NOISY_SCORER = textwrap.dedent(
    """\
    import importlib.util
    import random

    def evaluate(program_path):
        spec = importlib.util.spec_from_file_location("candidate", program_path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        true = -abs(module.value() - 10.0)
        return {"score": true + random.gauss(0.0, 1.0), "true_score": true}
    """
)


def test_a_run_with_repeats_stores_means_and_standard_errors(tmp_path):
    toml = TOML.replace("timeout_s = 10", "timeout_s = 10\nrepeats = 2\nconfirm_best = 2")
    problem = write_problem(tmp_path / "noisy", toml, scorer=NOISY_SCORER)
    run_dir = tmp_path / "run"
    options = RunOptions(sandbox="process", seed=1, concurrency=2)
    start_run(problem, run_dir, options, RunLimits(evaluations=6, concurrency=2))
    programs = Run.open(run_dir).programs
    ok_rows = programs[programs["status"] == "ok"]
    assert len(ok_rows) >= 1
    assert (ok_rows["metric.score_repeats"] >= 2).all()
    assert (ok_rows["metric.score_stderr"] > 0).all()  # Gaussian noise: never equal draws
    seed = programs[programs["edit_kind"] == "seed"].iloc[0]
    assert seed["metric.score_repeats"] == 4  # 2 repeats, then confirmed as the first best
    state = RunStore.open(run_dir).load_checkpoint(database=False)
    assert state is not None
    assert state["controller"]["extra_scorer_runs"] >= 2 + 6


def test_bad_repeat_settings_name_the_key(tmp_path):
    for k, line in enumerate(["repeats = 0", "confirm_best = -1", 'repeats = "3"']):
        toml = TOML.replace("timeout_s = 10", f"timeout_s = 10\n{line}")
        problem = write_problem(tmp_path / f"p{k}", toml)
        with pytest.raises(ConfigError, match=line.split()[0]):
            start_run(
                problem, tmp_path / f"r{k}", RunOptions(sandbox="process"), RunLimits(evaluations=1)
            )
