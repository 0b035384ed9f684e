"""The ``[judge]`` table: an LLM scores each candidate on criteria the problem
names (AlphaEvolve's LLM-generated feedback), beside the scorer's metrics.

Every program the scorer passes (status OK) is shown to the judge model with
the criteria; its ratings (0..1 each) become the metrics ``judge.<name>``, and
``judged_score`` = the base metric (the scorer's objective, unless
``base_metric`` names another) plus the weighted ratings (minus them when the
objective is minimised, so a better rating always helps). The judge never
changes the objective, unless ``[objective] metric = "judged_score"``: then
the combined value is what the run ranks by. ``evolve.judging`` runs it.

    [judge]
    model = "judge"                 # a model of [llm] (label or name); "" = the first

    [[judge.criteria]]
    name = "simplicity"
    description = "short, readable code without special cases"
    weight = 0.5
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

__all__ = ["JUDGED_SCORE", "JUDGE_METRIC_PREFIX", "JudgeConfig", "JudgeCriterion"]

JUDGED_SCORE = "judged_score"  # the combined metric; the objective only when named so
JUDGE_METRIC_PREFIX = "judge."  # a rating's metric: judge.<criterion name>
_NAME = re.compile(r"[a-z0-9_]+")
# Keys of the judge's JSON reply that cannot be criteria.
_RESERVED = frozenset({"rationale"})


@dataclass(frozen=True)
class JudgeCriterion:
    """One thing the judge rates: ``name`` (a metric ``judge.<name>``; lower
    case letters, digits and ``_``), ``description`` (what the judge is told
    it means), ``weight`` (its share of ``judged_score``, >= 0; 0: rated and
    shown in the feedback, not added)."""

    name: str
    description: str = ""
    weight: float = 0.0

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not _NAME.fullmatch(self.name):
            raise ValueError(
                f"criterion name {self.name!r} must be lower case letters, digits and _ "
                '(it becomes the metric "judge.<name>"), e.g. "simplicity"'
            )
        if self.name in _RESERVED:
            raise ValueError(
                f"criterion name {self.name!r} is reserved (the judge's reply uses that key); "
                "rename the criterion"
            )
        if not isinstance(self.description, str):
            raise ValueError(f"criterion {self.name!r}: description must be a string")
        weight = self.weight
        if isinstance(weight, bool) or not isinstance(weight, int | float):
            raise ValueError(f"criterion {self.name!r}: weight must be a number, got {weight!r}")
        if not math.isfinite(weight) or weight < 0:
            raise ValueError(
                f"criterion {self.name!r}: weight must be finite and >= 0, got {weight!r}"
            )
        object.__setattr__(self, "weight", float(weight))

    @property
    def metric(self) -> str:
        """The metric that holds this criterion's rating."""
        return f"{JUDGE_METRIC_PREFIX}{self.name}"


@dataclass(frozen=True)
class JudgeConfig:
    """``[judge]``: off unless it names criteria.

    criteria: the ``[[judge.criteria]]`` tables (name, description, weight).
    model: the ``[llm]`` model that judges (its label or name); "" is the
        first model of the ensemble. Its calls are accounted (llm_calls rows
        with edit_kind "metric_judge", the budget), recorded and replayed like
        proposals.
    base_metric: the scorer's metric that ``judged_score`` adds the weighted
        ratings to; "" is the ``[objective]`` metric. Required when the
        objective is ``judged_score`` itself.
    instructions: extra text for the judge (what the criteria mean for this
        problem, what to look for), after evolve's own instructions.
    max_code_chars: the candidate's code shown to the judge is cut beyond
        this many characters (a note says so).
    max_rationale_chars: the ``judge`` artifact (the ratings, then the
        judge's rationale; shown in the next prompt's feedback on its parent)
        is cut beyond this many characters.
    """

    criteria: tuple[JudgeCriterion, ...] = ()
    model: str = ""
    base_metric: str = ""
    instructions: str = ""
    max_code_chars: int = 20000
    max_rationale_chars: int = 2000

    def __post_init__(self) -> None:
        criteria = tuple(self.criteria)
        for criterion in criteria:
            if not isinstance(criterion, JudgeCriterion):
                raise ValueError(f"criteria must be JudgeCriterion tables, got {criterion!r}")
        object.__setattr__(self, "criteria", criteria)
        names = [c.name for c in criteria]
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise ValueError(
                f"criterion names must be unique; named more than once: {', '.join(repeated)}"
            )
        for key in ("model", "base_metric", "instructions"):
            if not isinstance(getattr(self, key), str):
                raise ValueError(f"{key} must be a string, got {getattr(self, key)!r}")
        if self.base_metric == JUDGED_SCORE or self.base_metric.startswith(JUDGE_METRIC_PREFIX):
            raise ValueError(
                f"base_metric {self.base_metric!r} is a metric the judge writes; name a metric "
                'the scorer returns (or "" for the [objective] metric)'
            )
        for key, least in (("max_code_chars", 100), ("max_rationale_chars", 1)):
            value = getattr(self, key)
            if isinstance(value, bool) or not isinstance(value, int) or value < least:
                raise ValueError(f"{key} must be an integer >= {least}, got {value!r}")

    @property
    def enabled(self) -> bool:
        return bool(self.criteria)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.criteria)
