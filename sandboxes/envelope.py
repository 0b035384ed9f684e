"""Host-side decoding of a sandbox's result envelope into an :class:`EvalResult`.

The bytes come from a process that ran hostile code, so they are validated
again here (the same rules as :func:`evaluators.envelope.decode_envelope`:
size, JSON without NaN/Infinity, exact fields, finite metrics, bounded counts
and lengths, known status). Garbage never raises: it becomes an ERROR result
whose reason says what was wrong.
"""

from __future__ import annotations

from evaluators.contract import Status
from evaluators.envelope import EnvelopeError, decode_envelope
from sandboxes.job import EvalResult, Probes

__all__ = ["error_result", "parse_envelope"]


def error_result(reason: str, wall_time_s: float = 0.0) -> EvalResult:
    """An ERROR result with a one-line reason."""
    line = " ".join(reason.split())[:2000]
    return EvalResult(status=Status.ERROR, reason=line, wall_time_s=wall_time_s)


def parse_envelope(raw: bytes) -> EvalResult:
    """Decode ``raw``; any invalid input gives an ERROR result instead of an exception."""
    try:
        env = decode_envelope(raw)
    except EnvelopeError as exc:
        return error_result(f"the sandbox sent an invalid result envelope: {exc}")
    except Exception as exc:  # a validator bug must still not crash a worker
        return error_result(f"the sandbox result could not be decoded: {type(exc).__name__}")
    return EvalResult(
        status=Status(env["status"]),
        metrics=env["metrics"],
        artifacts=env["artifacts"],
        reason=env["reason"],
        wall_time_s=env["wall_time_s"],
        peak_memory_mb=env["peak_memory_mb"],
        stage_reached=env["stage_reached"],
        probes=None if "probes" not in env else _probes(env["probes"]),
    )


def _probes(report: dict[str, object]) -> Probes:
    counts, log, seen = report["counts"], report["log"], report["seen"]
    assert isinstance(counts, dict) and isinstance(log, list) and isinstance(seen, list)
    return Probes(counts=dict(counts), log=tuple(log), seen=tuple(seen))
