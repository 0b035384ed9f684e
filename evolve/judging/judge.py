"""``MetricJudge``: rate a scored candidate with an LLM and merge the ratings
into its result.

For a result the scorer passed (status OK), the judge model reads the
candidate's code and the ``[judge]`` criteria and answers a rating in [0, 1]
per criterion. The result then gains:

* ``judge.<name>``: each rating;
* ``judged_score``: the base metric (the objective's, or ``base_metric``) plus
  the weighted ratings when the objective is maximised, minus them when it is
  minimised (a better rating always helps), absent when the scorer returned
  no base metric;
* the ``judge`` artifact: the ratings and the judge's rationale, which the next
  prompt shows as feedback on its parent.

A call that gives no usable answer (no reply, no JSON, a criterion missing or
not a number, the budget spent) changes no metric; the ``judge`` artifact
says why. The candidate never fails for it, except when the problem makes
``judged_score`` its objective: a candidate with no judged_score has no
objective, so it is INVALID, with the judge's failure as its reason. A wrong
key, URL or model, or a replay record that lacks the judge's request
(``LLMFatalError``), stops the run as it would for a proposal.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from evolve.config import JudgeConfig, ObjectiveSpec
from evolve.config.judge import JUDGED_SCORE
from evolve.judging.requests import Ratings, UnusableReply, metric_judge_messages, read_ratings
from evolve.mutation import BudgetExhausted
from evolve.records import Program, Status
from sandboxes.job import EvalResult

__all__ = ["ARTIFACT", "AskJudge", "JudgeStats", "MetricJudge", "merge_ratings", "unjudged"]

ARTIFACT = "judge"  # the artifact that carries the ratings and rationale (or why none)

# (messages, seed) -> the reply text, or None when no reply came
AskJudge = Callable[[Sequence[Mapping[str, Any]], int], Awaitable[str | None]]


@dataclass
class JudgeStats:
    """What the judge did in this process (for tests and reports)."""

    asked: int = 0
    rated: int = 0
    unusable: int = 0


class MetricJudge:
    """The ``[judge]`` of a run: ``judge`` rates one scored candidate."""

    def __init__(
        self,
        config: JudgeConfig,
        ask: AskJudge,
        objective: ObjectiveSpec,
        *,
        problem: str = "",
        description: str = "",
    ) -> None:
        if not config.enabled:
            raise ValueError("[judge] names no criteria: there is nothing to judge")
        self.config = config
        self.ask = ask
        self.objective = objective
        self.base_metric = config.base_metric or objective.metric
        if self.base_metric == JUDGED_SCORE:
            raise ValueError(
                'with [objective] metric = "judged_score", [judge] needs base_metric: the '
                "scorer's metric the ratings are added to"
            )
        self.problem = problem
        self.description = description
        self.stats = JudgeStats()

    @property
    def decides_objective(self) -> bool:
        """Whether the run ranks by ``judged_score`` (the problem said so)."""
        return self.objective.metric == JUDGED_SCORE

    async def judge(self, program: Program, result: EvalResult, seed: int) -> EvalResult:
        """``result`` with the judge's ratings merged in (unchanged unless OK)."""
        if result.status != Status.OK:
            return result
        messages = metric_judge_messages(program.code, self.config, self.problem, self.description)
        self.stats.asked += 1
        try:
            reply = await self.ask(messages, seed)
        except BudgetExhausted as exc:
            self.stats.unusable += 1
            return self._unjudged(result, f"the LLM budget is spent ({exc})")
        try:
            ratings = read_ratings(reply, self.config.names)
        except UnusableReply as exc:
            self.stats.unusable += 1
            return self._unjudged(result, str(exc))
        self.stats.rated += 1
        return merge_ratings(
            result,
            ratings,
            self.config,
            self.base_metric,
            maximize=self.objective.maximize,
            decides_objective=self.decides_objective,
        )

    def _unjudged(self, result: EvalResult, why: str) -> EvalResult:
        return unjudged(result, why, decides_objective=self.decides_objective)


def merge_ratings(
    result: EvalResult,
    ratings: Ratings,
    config: JudgeConfig,
    base_metric: str,
    *,
    maximize: bool = True,
    decides_objective: bool = False,
) -> EvalResult:
    """``result`` with ``judge.<name>`` metrics, ``judged_score`` and the
    ``judge`` artifact added (see the module docstring)."""
    metrics = {k: v for k, v in result.metrics.items() if k != JUDGED_SCORE}
    bonus = 0.0
    shown = []
    for criterion in config.criteria:
        rating = ratings.values[criterion.name]
        metrics[criterion.metric] = rating
        bonus += criterion.weight * rating
        shown.append(f"{criterion.name}={rating:.3g} (weight {criterion.weight:g})")
    base = _finite(metrics.get(base_metric))
    sign = "+" if maximize else "-"
    if base is not None:
        metrics[JUDGED_SCORE] = base + bonus if maximize else base - bonus
        total = f"{JUDGED_SCORE} = {base_metric} {sign} {bonus:.4g} = {metrics[JUDGED_SCORE]:.6g}"
    else:
        total = f"no {JUDGED_SCORE}: the scorer returned no numeric {base_metric!r} metric"
    head = f"LLM judge: {', '.join(shown)}; {total}"
    text = head if not ratings.rationale else f"{head}\n{ratings.rationale}"
    artifacts = {**result.artifacts, ARTIFACT: _cut(text, config.max_rationale_chars)}
    merged = dataclasses.replace(result, metrics=metrics, artifacts=artifacts)
    if base is None and decides_objective:
        reason = (
            f"objective {JUDGED_SCORE} is {base_metric} {sign} the judge's weighted ratings, "
            f"and the scorer returned no numeric {base_metric!r} metric"
        )
        return dataclasses.replace(merged, status=Status.INVALID, reason=reason)
    return merged


def unjudged(result: EvalResult, why: str, *, decides_objective: bool = False) -> EvalResult:
    """``result`` when the judge gave no usable answer: its metrics unchanged
    (but any ``judged_score``, which is the judge's), the ``judge`` artifact
    saying why; INVALID when ``judged_score`` is the objective."""
    metrics = {k: v for k, v in result.metrics.items() if k != JUDGED_SCORE}
    note = f"not judged: {why}"
    artifacts = {**result.artifacts, ARTIFACT: _cut(note, 500)}
    unrated = dataclasses.replace(result, metrics=metrics, artifacts=artifacts)
    if not decides_objective:
        return unrated
    reason = (
        f"objective {JUDGED_SCORE} needs the LLM judge's ratings, and it gave none ({why}); "
        "the candidate has no objective value"
    )
    return dataclasses.replace(unrated, status=Status.INVALID, reason=_cut(reason, 500))


def _finite(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: max(0, limit - 3)] + "..."
