"""Turn whatever a scorer returned into bounded metrics and artifacts, or a clear refusal.

Accepted shapes (OpenEvolve's contract, so its evaluators run unchanged):

* ``{"score": 0.9, "valid": True, "error": "msg"}``: numbers (bool counts as
  0/1, numpy scalars too) are metrics, strings are artifacts;
* ``{"metrics": {...}, "artifacts": {...}}``;
* OpenEvolve's ``EvaluationResult(metrics=..., artifacts=...)``.

Everything is checked before anything is serialised: a 100 MB dict is refused
by its length, a 100 MB string artifact is clipped, so the harness never builds
a huge envelope. NaN or infinity in a metric makes the result INVALID.
"""

from __future__ import annotations

import math
import reprlib
from dataclasses import dataclass, field
from typing import Any

from evaluators import contract
from evaluators._procs import clip
from evaluators.contract import Status

__all__ = ["RESERVED_ARTIFACTS", "Outcome", "normalize"]

RESERVED_ARTIFACTS = ("stdout", "stderr", "traceback", "cascade")
"""Artifact names the harness and supervisor fill in; they win over a scorer's."""

MAX_SCORER_ARTIFACTS = contract.MAX_ARTIFACTS - len(RESERVED_ARTIFACTS)
_HOW = (
    'return a dict such as {"score": 0.5} (numbers are metrics, strings are artifacts) '
    'or {"metrics": {...}, "artifacts": {...}}'
)
_repr = reprlib.Repr()
_repr.maxstring = 80
_repr.maxother = 80


@dataclass
class Outcome:
    """A stage's result after checking: status OK, or why not."""

    status: Status
    reason: str = ""
    metrics: dict[str, float] = field(default_factory=dict)
    artifacts: dict[str, str] = field(default_factory=dict)
    booleans: frozenset[str] = frozenset()  # metrics that came as True/False (flags)


def short_repr(value: Any) -> str:
    """A bounded repr, safe on huge or hostile objects."""
    try:
        return _repr.repr(value)
    except Exception:
        return f"<{type(value).__name__}>"


def _as_number(value: Any) -> Any:
    """numpy scalars as Python numbers (numpy itself is never imported here)."""
    if type(value).__module__ == "numpy" and getattr(value, "shape", None) == ():
        return value.item()
    return value


def normalize(value: Any, where: str) -> Outcome:
    """Check a scorer's return value; ``where`` names it in messages (``scorer.py:evaluate``)."""
    if type(value).__name__ == "EvaluationResult":  # OpenEvolve's dataclass
        metrics, artifacts = value.metrics, value.artifacts
        if isinstance(metrics, dict) and isinstance(artifacts, dict | None):
            # OpenEvolve leaves text metrics ({"error": "Timeout"}) out of fitness: artifacts
            texts = {k: v for k, v in metrics.items() if isinstance(v, str)}
            metrics = {k: v for k, v in metrics.items() if k not in texts}
            artifacts = {**texts, **(artifacts or {})}
        value = {"metrics": metrics, "artifacts": artifacts}
    if not isinstance(value, dict):
        return Outcome(
            Status.ERROR,
            f"{where}() returned {type(value).__name__} {short_repr(value)}, not a dict; {_HOW}",
        )
    if (
        "metrics" in value
        and isinstance(value["metrics"], dict)
        and set(value) <= {"metrics", "artifacts"}
    ):
        raw_artifacts = value.get("artifacts") or {}
        if not isinstance(raw_artifacts, dict):
            kind = type(raw_artifacts).__name__
            return Outcome(Status.ERROR, f"{where}() returned artifacts as {kind}; {_HOW}")
        return _split(value["metrics"], raw_artifacts, where, strings_are_artifacts=False)
    nested = value.get("artifacts")
    if isinstance(
        nested, dict
    ):  # {"combined_score": 1.0, "artifacts": {...}}, as OpenEvolve reads it
        flat = {k: v for k, v in value.items() if k != "artifacts"}
        return _split(flat, nested, where, strings_are_artifacts=True)
    return _split(value, {}, where, strings_are_artifacts=True)


def _split(
    metrics_in: dict[Any, Any],
    artifacts_in: dict[Any, Any],
    where: str,
    strings_are_artifacts: bool,
) -> Outcome:
    limit = contract.MAX_METRICS + (MAX_SCORER_ARTIFACTS if strings_are_artifacts else 0)
    if len(metrics_in) > limit:
        return Outcome(
            Status.ERROR,
            f"{where}() returned {len(metrics_in)} entries; at most {contract.MAX_METRICS} "
            f"metrics are kept, so return a few summary numbers rather than raw data",
        )
    if len(artifacts_in) > MAX_SCORER_ARTIFACTS:
        return Outcome(
            Status.ERROR,
            f"{where}() returned {len(artifacts_in)} artifacts; at most {MAX_SCORER_ARTIFACTS}",
        )
    metrics: dict[str, float] = {}
    artifacts: dict[str, str] = {}
    bad: list[str] = []
    flags: set[str] = set()
    for key, raw in metrics_in.items():
        if problem := _bad_name(key, where):
            return Outcome(Status.ERROR, problem)
        raw = _as_number(raw)
        if strings_are_artifacts and isinstance(raw, str):
            artifacts[key] = clip(raw, contract.MAX_ARTIFACT_CHARS)
            continue
        if isinstance(raw, bool):
            metrics[key] = float(raw)
            flags.add(key)
            continue
        if not isinstance(raw, int | float):
            return Outcome(
                Status.ERROR,
                f"{where}() returned metric {key!r} = {short_repr(raw)} "
                f"({type(raw).__name__}); metrics must be numbers; {_HOW}",
            )
        try:
            number = float(raw)
        except OverflowError:
            number = math.inf
        if math.isfinite(number):
            metrics[key] = number
        else:
            bad.append(f"{key}={number}")
    if len(artifacts) + len(artifacts_in) > MAX_SCORER_ARTIFACTS:
        return Outcome(Status.ERROR, f"{where}() returned more than {MAX_SCORER_ARTIFACTS} strings")
    for key, raw in artifacts_in.items():
        if problem := _bad_name(key, where):
            return Outcome(Status.ERROR, problem)
        if isinstance(raw, bytes):  # OpenEvolve allows bytes artifacts
            raw = raw[: contract.MAX_ARTIFACT_CHARS * 4].decode("utf-8", "replace")
        text = raw if isinstance(raw, str) else short_repr(raw)
        artifacts[key] = clip(text, contract.MAX_ARTIFACT_CHARS)
    if bad:
        return Outcome(
            Status.INVALID,
            f"{where}() returned non-finite metric {', '.join(bad[:5])}",
            metrics,
            artifacts,
        )
    return Outcome(Status.OK, "", metrics, artifacts, frozenset(flags))


def _bad_name(key: Any, where: str) -> str:
    if not isinstance(key, str):
        return (
            f"{where}() returned a {type(key).__name__} key {short_repr(key)}; "
            "metric and artifact names must be strings"
        )
    if not 0 < len(key) <= contract.MAX_METRIC_NAME_CHARS:
        return (
            f"{where}() returned a name of {len(key)} chars; names must have "
            f"1..{contract.MAX_METRIC_NAME_CHARS}"
        )
    return ""
