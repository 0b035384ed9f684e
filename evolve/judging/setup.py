"""Build a run's metric judge from its ``[judge]`` table and proposer.

The judge reaches its model through the run's ``LLMProposer``, so its calls
share the run's budget, its llm_calls table (edit_kind "metric_judge"), and
its record and replay. Settings that cannot work are refused here, before the
run scores anything, with the fix.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from evolve.config import Problem
from evolve.config.judge import JUDGED_SCORE
from evolve.errors import ConfigError
from evolve.judging.judge import MetricJudge
from evolve.judging.requests import METRIC_JUDGE_CALL
from evolve.mutation import Proposer
from evolve.mutation.llm import LLMProposer

__all__ = ["build_metric_judge", "judge_model"]


def build_metric_judge(problem: Problem, proposer: Proposer) -> MetricJudge | None:
    """The judge ``problem``'s ``[judge]`` asks for (None when it names no
    criteria); ``ConfigError`` when it cannot work with this run."""
    config = problem.spec.judge
    if not config.enabled:
        return None
    where = f"[judge] of {problem.root / 'problem.toml'}"
    if not isinstance(proposer, LLMProposer):
        raise ConfigError(
            f"{where}: LLM-judged metrics need an LLM run (--model llm, or --replay of a "
            "recorded one); the offline mutator has no model to ask. Run with an LLM, or "
            "remove the [[judge.criteria]] tables"
        )
    model = judge_model(proposer, config.model, where)
    _check_objective(problem, where)
    llm = proposer

    async def ask(messages: Sequence[Mapping[str, Any]], seed: int) -> str | None:
        return await llm.ask(model, messages, seed, METRIC_JUDGE_CALL)

    return MetricJudge(
        config,
        ask,
        problem.spec.objective,
        problem=problem.spec.name,
        description=problem.spec.description,
    )


def judge_model(proposer: LLMProposer, wanted: str, where: str) -> str:
    """The ensemble key of the judge's model: ``wanted`` as a label or name
    ("" is the first model)."""
    models = proposer.config.models
    if not wanted:
        return models[0].key
    if wanted in proposer.clients:
        return wanted
    named = [spec.key for spec in models if spec.name == wanted]
    if len(named) == 1:
        return named[0]
    known = ", ".join(proposer.clients) or "none"
    if len(named) > 1:
        raise ConfigError(
            f"{where}: model {wanted!r} names {len(named)} models of the [llm] table "
            f"({', '.join(named)}); set model to one of their labels"
        )
    raise ConfigError(
        f"{where}: model {wanted!r} is not a model of the [llm] table (known: {known}); "
        'set [judge] model to one of them, or "" for the first'
    )


def _check_objective(problem: Problem, where: str) -> None:
    """With ``judged_score`` as the objective, refuse what would silently not work."""
    spec = problem.spec
    if spec.objective.metric != JUDGED_SCORE:
        return
    if not spec.judge.base_metric:
        raise ConfigError(
            f'{where}: [objective] metric = "judged_score" needs [judge] base_metric, the '
            'scorer\'s metric the weighted ratings are added to (e.g. base_metric = "score")'
        )
    if spec.evaluation.confirm_best:
        raise ConfigError(
            f'{where}: [objective] metric = "judged_score" does not work with [evaluation] '
            "confirm_best: the judge rates a candidate after its scorer runs, so the repeats "
            "could never see its objective; set confirm_best = 0 (repeats works)"
        )
    if problem.holdout:
        raise ConfigError(
            f'{where}: [objective] metric = "judged_score" does not work with a held-out '
            "scorer (evaluate_holdout): it runs the scorer alone, without the judge, so it "
            "could never report the objective; rank by the scorer's metric instead"
        )
    evaluation = spec.evaluation
    if evaluation.cascade and evaluation.thresholds and len(problem.stages) > 1:
        raise ConfigError(
            f'{where}: [objective] metric = "judged_score" does not work with cascade '
            "[evaluation] thresholds: they compare the objective between stages, before the "
            "judge has rated the candidate; remove the thresholds or set cascade = false"
        )
