"""Which failures are worth retrying, and how long to wait before the next try.

Retries are done here rather than by the openai client (``max_retries=0``) so
that every attempt is counted in the call's record and the waits follow one
seeded policy: exponential backoff with full jitter, except that a server's
Retry-After is honoured (capped, so a hostile or broken header cannot stall a
run for hours).
"""

from __future__ import annotations

import random
import time
from collections.abc import Mapping
from email.utils import parsedate_to_datetime
from typing import Literal

import openai

__all__ = ["Verdict", "backoff_delay", "classify", "describe", "parse_retry_after", "retry_after_s"]

Verdict = Literal["retry", "fail", "fatal"]

# Statuses that mean "this key, endpoint or model is wrong": retrying cannot
# help and every later call would fail the same way, so the run should stop.
FATAL_STATUSES = frozenset({401, 403, 404})


def classify(exc: BaseException) -> Verdict:
    """``retry`` (transient), ``fail`` (this request is bad), or ``fatal`` (config)."""
    if isinstance(exc, openai.APIConnectionError):  # includes APITimeoutError
        return "retry"
    if isinstance(exc, openai.APIStatusError):
        status = exc.status_code
        if status == 429 or status == 408 or status == 409 or status >= 500:
            return "retry"
        if status in FATAL_STATUSES:
            return "fatal"
        return "fail"
    return "fail"


def describe(exc: BaseException) -> str:
    """A one-line description of a failed attempt for the call record."""
    if isinstance(exc, openai.APITimeoutError):
        return "timeout: no reply within the timeout"
    if isinstance(exc, openai.APIConnectionError):
        cause = exc.__cause__
        return f"connection error: {cause or exc}"[:300]
    if isinstance(exc, openai.APIStatusError):
        return f"HTTP {exc.status_code}: {exc.message}"[:300]
    return f"{type(exc).__name__}: {exc}"[:300]


def retry_after_s(exc: BaseException, now: float | None = None) -> float | None:
    """The wait a failed attempt's server asked for; None when it did not."""
    if not isinstance(exc, openai.APIStatusError):
        return None
    return parse_retry_after(exc.response.headers, now)


def parse_retry_after(headers: Mapping[str, str], now: float | None = None) -> float | None:
    """Seconds from ``retry-after-ms`` or ``Retry-After`` (delta-seconds or an
    HTTP date); None when absent or unreadable. ``headers`` is case-insensitive
    when it comes from an HTTP response."""
    millis = headers.get("retry-after-ms")
    if millis is not None:
        try:
            return max(0.0, float(millis) / 1000)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    now = time.time() if now is None else now
    return max(0.0, when.timestamp() - now)


def backoff_delay(
    attempt: int, base_s: float, max_s: float, rng: random.Random, retry_after: float | None
) -> float:
    """Seconds to wait after failed attempt number ``attempt`` (0-based)."""
    if retry_after is not None:
        return min(retry_after, max_s)
    return rng.uniform(0.0, min(max_s, base_s * 2**attempt))
