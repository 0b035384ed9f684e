"""LLM-judged metrics (``[judge]`` of problem.toml): a judge model rates each
scored candidate on criteria the problem names; the ratings join its metrics
(``judge.<name>``, ``judged_score``) and its feedback (the ``judge``
artifact), never its objective unless the problem makes ``judged_score`` it.

Owns the judge's request and the reading of its reply (``requests``), the
merge into a result (``judge``) and building it for a run (``setup``). Its
calls go through the run's ``LLMProposer``: accounted, recorded, replayed.
"""

from __future__ import annotations

from evolve.judging.judge import ARTIFACT, AskJudge, JudgeStats, MetricJudge, merge_ratings
from evolve.judging.requests import (
    METRIC_JUDGE_CALL,
    METRIC_JUDGE_MARKER,
    JudgeRequest,
    Ratings,
    UnusableReply,
    metric_judge_messages,
    read_metric_judge_request,
    read_ratings,
)
from evolve.judging.setup import build_metric_judge

__all__ = [
    "ARTIFACT",
    "METRIC_JUDGE_CALL",
    "METRIC_JUDGE_MARKER",
    "AskJudge",
    "JudgeRequest",
    "JudgeStats",
    "MetricJudge",
    "Ratings",
    "UnusableReply",
    "build_metric_judge",
    "merge_ratings",
    "metric_judge_messages",
    "read_metric_judge_request",
    "read_ratings",
]
