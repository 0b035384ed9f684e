"""The merge of the judge's ratings into a result (the arithmetic of
``judged_score``, the ``judge`` artifact), what an unusable answer leaves, and
the settings ``build_metric_judge`` refuses before a run starts."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

from evolve.config import (
    JudgeConfig,
    JudgeCriterion,
    LLMConfig,
    ModelSpec,
    ObjectiveSpec,
    load_problem,
)
from evolve.errors import ConfigError
from evolve.judging import (
    ARTIFACT,
    METRIC_JUDGE_MARKER,
    MetricJudge,
    Ratings,
    build_metric_judge,
    merge_ratings,
)
from evolve.mutation import BudgetExhausted
from evolve.mutation.llm import LLMProposer
from evolve.mutation.offline.proposer import OfflineProposer
from evolve.mutation.prompts import PromptBuilder
from evolve.records import Program, Status
from sandboxes.job import EvalResult
from tests.problem_factory import SCORER, TOML, write_problem

CONFIG = JudgeConfig(
    criteria=(JudgeCriterion("simplicity", weight=0.5), JudgeCriterion("generality", weight=2.0)),
    max_rationale_chars=200,
)
RATINGS = Ratings({"simplicity": 0.4, "generality": 0.25}, "Short; hard-codes 15.")
OK = EvalResult(Status.OK, metrics={"score": -5.0, "other": 1.0}, artifacts={"log": "x"})
PROGRAM = Program(id="p1", code="def value():\n    return 15.0\n", iteration=3)


def test_judged_score_is_the_objective_plus_the_weighted_ratings():
    merged = merge_ratings(OK, RATINGS, CONFIG, "score")
    bonus = 0.5 * 0.4 + 2.0 * 0.25
    assert merged.metrics == {
        "score": -5.0,
        "other": 1.0,
        "judge.simplicity": 0.4,
        "judge.generality": 0.25,
        "judged_score": pytest.approx(-5.0 + bonus),
    }
    assert merged.status == Status.OK and merged.artifacts["log"] == "x"
    note = merged.artifacts[ARTIFACT]
    assert "simplicity=0.4 (weight 0.5)" in note and "generality=0.25 (weight 2)" in note
    assert "judged_score = score + 0.7 = -4.3" in note and note.endswith("Short; hard-codes 15.")
    assert OK.metrics == {"score": -5.0, "other": 1.0}  # the input is not changed


def test_a_minimised_objective_subtracts_the_ratings_so_they_still_help():
    merged = merge_ratings(OK, RATINGS, CONFIG, "score", maximize=False)
    assert merged.metrics["judged_score"] == pytest.approx(-5.0 - 0.7)
    assert "score - 0.7" in merged.artifacts[ARTIFACT]


def test_another_base_metric_and_a_missing_one():
    assert merge_ratings(OK, RATINGS, CONFIG, "other").metrics["judged_score"] == pytest.approx(1.7)
    missing = merge_ratings(OK, RATINGS, CONFIG, "absent")
    assert "judged_score" not in missing.metrics and missing.status == Status.OK
    assert missing.metrics["judge.simplicity"] == 0.4
    assert "no judged_score" in missing.artifacts[ARTIFACT]
    invalid = merge_ratings(OK, RATINGS, CONFIG, "absent", decides_objective=True)
    assert invalid.status == Status.INVALID and "no numeric 'absent'" in invalid.reason


def test_zero_weights_rate_without_moving_judged_score_and_the_note_is_bounded():
    config = JudgeConfig(criteria=(JudgeCriterion("simplicity"),), max_rationale_chars=50)
    merged = merge_ratings(OK, Ratings({"simplicity": 1.0}, "y" * 500), config, "score")
    assert merged.metrics["judged_score"] == -5.0
    assert len(merged.artifacts[ARTIFACT]) == 50


def test_a_scorer_judged_score_is_replaced_by_the_judges():
    result = EvalResult(Status.OK, metrics={"score": 1.0, "judged_score": 99.0})
    assert merge_ratings(result, RATINGS, CONFIG, "score").metrics["judged_score"] == 1.7


class FakeAsk:
    """A judge model that answers ``reply`` (or raises ``error``) and keeps the requests."""

    def __init__(self, reply: str | None = None, error: Exception | None = None) -> None:
        self.reply, self.error = reply, error
        self.requests: list[tuple[Sequence[Mapping[str, Any]], int]] = []

    async def __call__(self, messages: Sequence[Mapping[str, Any]], seed: int) -> str | None:
        self.requests.append((messages, seed))
        if self.error is not None:
            raise self.error
        return self.reply


def judged(reply: str | None, result: EvalResult = OK, **kw: Any) -> tuple[EvalResult, FakeAsk]:
    error = kw.pop("error", None)
    ask = FakeAsk(reply, error)
    config = dataclasses.replace(CONFIG, base_metric="score")
    judge = MetricJudge(config, ask, ObjectiveSpec(**kw), problem="tiny")
    return asyncio.run(judge.judge(PROGRAM, result, seed=PROGRAM.iteration)), ask


def test_the_judge_asks_with_the_code_and_seed_and_merges_the_answer():
    reply = '```json\n{"simplicity": 0.4, "generality": 0.25, "rationale": "why"}\n```'
    result, ask = judged(reply)
    ((messages, seed),) = ask.requests
    assert seed == 3 and messages[0]["content"].startswith(METRIC_JUDGE_MARKER)
    assert PROGRAM.code in messages[-1]["content"] and "Problem: tiny" in messages[-1]["content"]
    assert result.metrics["judged_score"] == pytest.approx(-4.3)
    assert result.artifacts[ARTIFACT].endswith("why")


def test_only_passing_results_are_judged():
    for status in (Status.ERROR, Status.INVALID, Status.TIMEOUT):
        failed = EvalResult(status, metrics={"score": 1.0}, reason="boom")
        result, ask = judged("{}", failed)
        assert result is failed and not ask.requests


@pytest.mark.parametrize(
    ("reply", "error", "why"),
    [
        (None, None, "no reply"),
        ("It is simple.", None, "no JSON object"),
        ('{"simplicity": 0.5}', None, "no rating of 'generality'"),
        (None, BudgetExhausted("budget_usd reached"), "budget is spent"),
    ],
)
def test_no_usable_answer_leaves_the_metrics_and_says_why(reply, error, why):
    result, _ = judged(reply, error=error)
    assert result.status == Status.OK and result.metrics == OK.metrics
    assert (
        result.artifacts[ARTIFACT].startswith("not judged: ") and why in result.artifacts[ARTIFACT]
    )
    # ... unless the judge's value is the objective: then the candidate has none
    invalid, _ = judged(reply, error=error, metric="judged_score")
    assert invalid.status == Status.INVALID
    assert "objective judged_score needs the LLM judge's ratings" in invalid.reason
    assert why in invalid.reason and why in invalid.artifacts[ARTIFACT]


def test_judged_score_as_the_objective_needs_a_base_metric():
    with pytest.raises(ValueError, match="base_metric"):
        MetricJudge(CONFIG, FakeAsk(), ObjectiveSpec(metric="judged_score"))
    with pytest.raises(ValueError, match="no criteria"):
        MetricJudge(JudgeConfig(), FakeAsk(), ObjectiveSpec())


# -- build_metric_judge ----------------------------------------------------------


@pytest.fixture
def proposer() -> Iterator[LLMProposer]:
    spec: dict[str, Any] = {"base_url": "http://127.0.0.1:9/v1", "api_key_env": ""}
    config = LLMConfig(
        models=(ModelSpec(name="m1", label="fast", **spec), ModelSpec(name="m2", **spec))
    )
    llm = LLMProposer.create(config, PromptBuilder("system"))
    yield llm
    asyncio.run(llm.aclose())


def problem_with(root: Path, table: str, objective: str = "score"):
    toml = TOML.replace('metric = "score"', f'metric = "{objective}"')
    return load_problem(write_problem(root, toml=toml + table))


CRITERIA = '\n[[judge.criteria]]\nname = "simplicity"\nweight = 0.5\n'


def test_no_criteria_no_judge(tmp_path, proposer):
    assert build_metric_judge(problem_with(tmp_path / "p", ""), proposer) is None
    assert build_metric_judge(problem_with(tmp_path / "q", ""), OfflineProposer()) is None


def test_the_model_is_the_first_or_a_label_or_a_unique_name(tmp_path, proposer):
    for model, key in (("", "fast"), ("fast", "fast"), ("m1", "fast"), ("m2", "m2")):
        table = f'\n[judge]\nmodel = "{model}"\n' + CRITERIA
        judge = build_metric_judge(problem_with(tmp_path / f"p{key}{model}", table), proposer)
        assert isinstance(judge, MetricJudge) and judge.base_metric == "score"
        assert not judge.decides_objective


STAGED = SCORER + "\n\ndef evaluate_stage1(program_path):\n    return evaluate(program_path)\n"
STAGED += "\n\ndef evaluate_stage2(program_path):\n    return evaluate(program_path)\n"
JUDGED = '\n[judge]\nbase_metric = "score"\n' + CRITERIA


@pytest.mark.parametrize(
    ("table", "objective", "evaluation", "message"),
    [
        (
            '\n[judge]\nmodel = "gpt-9"\n' + CRITERIA,
            "score",
            "",
            r"'gpt-9' is not a model.*fast, m2",
        ),
        (CRITERIA, "judged_score", "", "needs \\[judge\\] base_metric"),
        (JUDGED, "judged_score", "confirm_best = 2\n", "confirm_best"),
        (JUDGED, "judged_score", "thresholds = [-8.0]\n", "cascade"),
    ],
)
def test_settings_that_cannot_work_are_refused(
    tmp_path, proposer, table, objective, evaluation, message
):
    toml = TOML.replace('metric = "score"', f'metric = "{objective}"')
    toml = toml.replace("timeout_s = 10\n", f"timeout_s = 10\n{evaluation}")
    problem = load_problem(write_problem(tmp_path / "p", toml=toml + table, scorer=STAGED))
    assert len(problem.stages) == 2
    with pytest.raises(ConfigError, match=message) as err:
        build_metric_judge(problem, proposer)
    assert "[judge] of" in str(err.value) and "problem.toml" in str(err.value)


def test_cascade_thresholds_are_fine_when_the_objective_is_the_scorers(tmp_path, proposer):
    toml = TOML.replace("timeout_s = 10\n", "timeout_s = 10\nthresholds = [-8.0]\n")
    problem = load_problem(write_problem(tmp_path / "p", toml=toml + CRITERIA, scorer=STAGED))
    assert build_metric_judge(problem, proposer) is not None


def test_an_offline_run_cannot_judge(tmp_path):
    problem = problem_with(tmp_path / "p", CRITERIA)
    with pytest.raises(ConfigError, match="need an LLM run") as err:
        build_metric_judge(problem, OfflineProposer())
    assert "problem.toml" in str(err.value) and "remove the [[judge.criteria]]" in str(err.value)


def test_judged_score_as_the_objective_builds_a_judge_that_decides_it(tmp_path, proposer):
    table = '\n[judge]\nbase_metric = "score"\n' + CRITERIA
    judge = build_metric_judge(problem_with(tmp_path / "p", table, "judged_score"), proposer)
    assert judge is not None and judge.decides_objective and judge.base_metric == "score"
