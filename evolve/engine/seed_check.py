"""A seed whose score looks like its scorer swallowed an error.

Many scorers (OpenEvolve's examples among them) catch their own exceptions and
return zeros with an ``error`` entry: a missing package then scores every
program "ok 0.0" and evolution runs against a constant, saying nothing. Before
a run spends a single LLM call on that, ``evolve eval`` and ``evolve run`` say
so, with what the scorer left behind.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

__all__ = ["ERROR_KEYS", "suspicious_seed"]

ERROR_KEYS = frozenset(
    {"error", "errors", "error_message", "error_type", "exception", "traceback", "full_traceback"}
)
_ERROR_TEXT = re.compile(
    r"Traceback \(most recent call last\)|\b[A-Z]\w*(?:Error|Exception)\b: |No module named "
)


def suspicious_seed(
    status: str, metrics: Mapping[str, float], artifacts: Mapping[str, str]
) -> str | None:
    """Why an ``ok`` seed result looks like a swallowed error (None: it does
    not): an error-like artifact, an exception's text in one, or every metric 0."""
    if status != "ok":
        return None  # a failure says so itself
    reasons = []
    named = sorted(key for key in artifacts if key.lower() in ERROR_KEYS)
    if named:
        first = " ".join(str(artifacts[named[0]]).split())[:200]
        reasons.append(f"it returned {', '.join(repr(k) for k in named)} ({first})")
    else:
        for key, text in artifacts.items():
            found = _ERROR_TEXT.search(text)
            if found:
                line = next((ln for ln in text.splitlines() if found.group(0) in ln), "")
                reasons.append(f"its {key!r} reads like an exception: {line.strip()[:200]}")
                break
    if metrics and all(value == 0 for value in metrics.values()):
        reasons.append(f"every metric is 0 ({', '.join(sorted(metrics)[:8])})")
    if not reasons:
        return None
    return (
        "the seed scored, but " + "; and ".join(reasons) + ": the scorer probably caught its "
        "own error (a missing package, a wrong path), and every program would score the same. "
        "Check its output with `evolve eval`, fix the scorer, then run"
    )
