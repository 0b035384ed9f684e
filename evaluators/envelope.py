"""The result envelope: one JSON object, built and checked by the same rules on both sides.

The harness sends it to the supervisor over a private pipe; the supervisor adds
what only it knows (wall time, peak memory, captured output) and sends it to
the host, which decodes it again with :func:`decode_envelope`. Either hop may
carry hostile bytes (a scorer that imported the candidate in-process), so
decoding is strict: a size cap before parsing, no NaN/Infinity, exact key set,
bounded counts and lengths. Version 1 fields::

    {"version": 1, "status": "ok|invalid|timeout|oom|error", "reason": str,
     "metrics": {name: finite number}, "artifacts": {name: str},
     "stage_reached": int, "wall_time_s": float, "peak_memory_mb": float,
     "probes": {"counts": {kind: int}, "log": [str], "seen": [kind]}}

``probes`` (the supervisor's behaviour report, :mod:`evaluators._monitor`) is
absent where nothing was monitored.
"""

from __future__ import annotations

import json
import math
from typing import Any

from evaluators import contract
from evaluators._procs import clip
from evaluators.contract import Status

__all__ = [
    "EnvelopeError",
    "decode_envelope",
    "encode_envelope",
    "fit_artifacts",
    "make_envelope",
    "validate_envelope",
]

MAX_REASON_CHARS = 2000
MAX_STAGES = 1000
_REQUIRED = ("version", "status")
_OPTIONAL = (
    "reason",
    "metrics",
    "artifacts",
    "stage_reached",
    "wall_time_s",
    "peak_memory_mb",
    "probes",
)
_STATUSES = {s.value for s in Status}


class EnvelopeError(ValueError):
    """The bytes are not a valid envelope; the message says which field and why."""


def one_line(text: str, limit: int = MAX_REASON_CHARS) -> str:
    """``text`` as a single line of at most ``limit`` characters."""
    flat = " ".join(text[: 2 * limit].split())  # clip first: split() of 100 MB is costly
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."


def clean_text(text: str) -> str:
    """``text`` without lone surrogates, so it can always be encoded as UTF-8."""
    return text.encode("utf-8", "replace").decode("utf-8")


def make_envelope(
    status: Status | str,
    reason: str = "",
    metrics: dict[str, float] | None = None,
    artifacts: dict[str, str] | None = None,
    stage_reached: int = 0,
    wall_time_s: float = 0.0,
    peak_memory_mb: float = 0.0,
    probes: dict[str, Any] | None = None,
) -> dict[str, Any]:
    envelope = {
        "version": contract.ENVELOPE_VERSION,
        "status": str(Status(status).value),
        "reason": one_line(reason),
        "metrics": dict(metrics or {}),
        "artifacts": dict(artifacts or {}),
        "stage_reached": int(stage_reached),
        "wall_time_s": float(wall_time_s),
        "peak_memory_mb": float(peak_memory_mb),
    }
    if probes is not None:
        envelope["probes"] = probes
    return envelope


def fit_artifacts(artifacts: dict[str, str], budget_bytes: int) -> dict[str, str]:
    """Clip artifacts so that together they encode to at most ``budget_bytes``.

    Each is first cut to ``MAX_ARTIFACT_CHARS``; if the total is still over
    budget, every artifact larger than an equal share is cut to that share.
    """
    out = {k: clip(clean_text(v), contract.MAX_ARTIFACT_CHARS) for k, v in artifacts.items()}
    sizes = {k: len(json.dumps(v)) for k, v in out.items()}
    if sum(sizes.values()) <= budget_bytes or not out:
        return out
    share = budget_bytes // len(out)
    for key, size in sizes.items():
        if size > share:
            # A char encodes to at most 6 bytes (\\uXXXX); cut until it fits.
            chars = max(0, min(len(out[key]), share // 6))
            out[key] = clip(out[key], chars)
    return out


def encode_envelope(envelope: dict[str, Any]) -> bytes:
    """Compact JSON; NaN is refused (the validators never let one through)."""
    return json.dumps(envelope, allow_nan=False, separators=(",", ":")).encode("utf-8")


def _refuse_constant(name: str) -> float:
    raise EnvelopeError(f"non-finite number {name} in the envelope")


def decode_envelope(raw: bytes) -> dict[str, Any]:
    """Parse and validate ``raw``; raises EnvelopeError (never anything else)."""
    if not isinstance(raw, bytes | bytearray):
        raise EnvelopeError(f"expected bytes, got {type(raw).__name__}")
    if len(raw) > contract.MAX_ENVELOPE_BYTES:
        raise EnvelopeError(f"{len(raw)} bytes, more than {contract.MAX_ENVELOPE_BYTES}")
    if not raw.strip():
        raise EnvelopeError("empty")
    try:
        text = bytes(raw).decode("utf-8")
        obj = json.loads(text, parse_constant=_refuse_constant)
    except EnvelopeError:
        raise
    except (ValueError, RecursionError) as exc:
        raise EnvelopeError(f"not valid JSON ({type(exc).__name__}: {str(exc)[:200]})") from None
    return validate_envelope(obj)


def validate_envelope(obj: Any) -> dict[str, Any]:
    """A clean copy of ``obj`` if it is a valid envelope; raises EnvelopeError otherwise."""
    if not isinstance(obj, dict):
        raise EnvelopeError(f"top level is {type(obj).__name__}, expected an object")
    unknown = [k for k in obj if k not in _REQUIRED and k not in _OPTIONAL]
    if unknown:
        raise EnvelopeError(f"unknown field {str(unknown[0])[:80]!r}")
    missing = [k for k in _REQUIRED if k not in obj]
    if missing:
        raise EnvelopeError(f"missing field {missing[0]!r}")
    version = obj["version"]
    if type(version) is not int or version != contract.ENVELOPE_VERSION:
        raise EnvelopeError(f"version {str(version)[:20]!r}, expected {contract.ENVELOPE_VERSION}")
    status = obj["status"]
    if not isinstance(status, str) or status not in _STATUSES:
        raise EnvelopeError(f"unknown status {str(status)[:40]!r}")
    reason = obj.get("reason", "")
    if not isinstance(reason, str):
        raise EnvelopeError("reason is not a string")
    reason = one_line(clean_text(reason))
    if status != Status.OK and not reason:
        reason = f"the evaluation ended with status {status} and gave no reason"
    return make_envelope(
        status,
        reason,
        _metrics(obj.get("metrics", {})),
        _artifacts(obj.get("artifacts", {})),
        _count(obj.get("stage_reached", 0), "stage_reached", MAX_STAGES),
        _nonnegative(obj.get("wall_time_s", 0.0), "wall_time_s"),
        _nonnegative(obj.get("peak_memory_mb", 0.0), "peak_memory_mb"),
        None if obj.get("probes") is None else _probes(obj["probes"]),
    )


def _probes(value: Any) -> dict[str, Any]:
    """The behaviour report: known kinds, bounded counts, a short log."""
    if not isinstance(value, dict) or set(value) - {"counts", "log", "seen"}:
        raise EnvelopeError("probes must be an object of counts, log and seen")
    counts = value.get("counts", {})
    log = value.get("log", [])
    seen = value.get("seen", [])
    if not isinstance(counts, dict) or set(counts) - set(contract.PROBE_KINDS):
        raise EnvelopeError(f"probes.counts must map kinds {contract.PROBE_KINDS} to counts")
    if not isinstance(log, list) or len(log) > contract.MAX_PROBE_LINES:
        raise EnvelopeError(f"probes.log must be a list of at most {contract.MAX_PROBE_LINES}")
    if not isinstance(seen, list) or set(seen) - set(contract.PROBE_KINDS):
        raise EnvelopeError("probes.seen must list known kinds")
    for line in log:
        if not isinstance(line, str) or len(line) > contract.MAX_PROBE_LINE_CHARS + 16:
            raise EnvelopeError("probes.log lines must be short strings")
    return {
        "counts": {
            kind: _count(n, f"probes.counts.{kind}", contract.MAX_PROBE_COUNT)
            for kind, n in counts.items()
        },
        "log": [one_line(clean_text(line)) for line in log],
        "seen": [kind for kind in contract.PROBE_KINDS if kind in seen],
    }


def _name(key: Any, what: str) -> str:
    if not isinstance(key, str):
        raise EnvelopeError(f"{what} name is {type(key).__name__}, not a string")
    if not 0 < len(key) <= contract.MAX_METRIC_NAME_CHARS:
        raise EnvelopeError(
            f"{what} name of length {len(key)} (1..{contract.MAX_METRIC_NAME_CHARS})"
        )
    return clean_text(key)


def _metrics(value: Any) -> dict[str, float]:
    if not isinstance(value, dict):
        raise EnvelopeError("metrics is not an object")
    if len(value) > contract.MAX_METRICS:
        raise EnvelopeError(f"{len(value)} metrics, more than {contract.MAX_METRICS}")
    out: dict[str, float] = {}
    for key, number in value.items():
        name = _name(key, "metric")
        if isinstance(number, bool) or not isinstance(number, int | float):
            raise EnvelopeError(f"metric {name!r} is {type(number).__name__}, not a number")
        try:
            as_float = float(number)
        except OverflowError:
            raise EnvelopeError(f"metric {name!r} is too large") from None
        if not math.isfinite(as_float):
            raise EnvelopeError(f"metric {name!r} is not finite")
        out[name] = as_float
    return out


def _artifacts(value: Any) -> dict[str, str]:
    if not isinstance(value, dict):
        raise EnvelopeError("artifacts is not an object")
    if len(value) > contract.MAX_ARTIFACTS:
        raise EnvelopeError(f"{len(value)} artifacts, more than {contract.MAX_ARTIFACTS}")
    out: dict[str, str] = {}
    for key, text in value.items():
        name = _name(key, "artifact")
        if not isinstance(text, str):
            raise EnvelopeError(f"artifact {name!r} is {type(text).__name__}, not a string")
        if len(text) > contract.MAX_ARTIFACT_CHARS:
            raise EnvelopeError(f"artifact {name!r} has {len(text)} chars, more than allowed")
        out[name] = clean_text(text)
    return out


def _count(value: Any, name: str, limit: int) -> int:
    if type(value) is not int or not 0 <= value <= limit:
        raise EnvelopeError(f"{name} must be an integer in 0..{limit}")
    return value


def _nonnegative(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise EnvelopeError(f"{name} is not a number")
    try:
        number = float(value)
    except OverflowError:
        raise EnvelopeError(f"{name} is too large") from None
    if not (math.isfinite(number) and number >= 0):
        raise EnvelopeError(f"{name} must be finite and >= 0")
    return number
