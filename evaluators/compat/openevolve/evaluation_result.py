"""OpenEvolve's evaluation result type, as its evaluators construct it.

``EvaluationResult(metrics={...}, artifacts={...})``: metrics are the numbers
(the objective among them), artifacts text or bytes shown to the next prompt.
evolve's harness recognises the type by name and reads both fields
(:func:`evaluators.results.normalize`); the helper methods are the ones
OpenEvolve's evaluators and tests call.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["EVALUATION_FAILED_METRIC", "EvaluationResult"]

EVALUATION_FAILED_METRIC = "__evaluation_failed__"


@dataclass
class EvaluationResult:
    """Metrics (name -> number) plus optional artifacts (name -> str or bytes)."""

    metrics: dict[str, Any]
    artifacts: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, metrics: dict[str, Any]) -> EvaluationResult:
        """A plain metrics dict as a result without artifacts."""
        return cls(metrics=metrics)

    def to_dict(self) -> dict[str, Any]:
        """The metrics alone (what a dict-returning evaluator would give)."""
        return self.metrics

    def has_artifacts(self) -> bool:
        return bool(self.artifacts)

    def get_artifact_keys(self) -> list[str]:
        return list(self.artifacts)

    def get_artifact_size(self, key: str) -> int:
        """Bytes of one artifact (UTF-8 for text; 0 for a missing key)."""
        if key not in self.artifacts:
            return 0
        value = self.artifacts[key]
        if isinstance(value, bytes):
            return len(value)
        return len(str(value).encode("utf-8"))

    def get_total_artifact_size(self) -> int:
        return sum(self.get_artifact_size(key) for key in self.artifacts)
