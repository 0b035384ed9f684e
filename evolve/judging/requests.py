"""The metric judge's request and the reading of its reply.

The request carries ``METRIC_JUDGE_MARKER`` at the start of its system
message, so the mutator server (``evolve mutator serve``) can tell it from a
proposal or a novelty judgement and answer it deterministically, and the
record/replay key sets it apart from any other call. Its user message lists
the criteria one a line (``- name: description``) and ends with the program in
a fenced block, which ``read_metric_judge_request`` reads back.

A reply is usable when it holds a JSON object (bare, in a ```json fence, or
with prose around it) that rates every criterion with a number; numbers
outside [0, 1] are clamped. Anything else raises ``UnusableReply`` with why.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from evolve.config import JudgeConfig

__all__ = [
    "METRIC_JUDGE_CALL",
    "METRIC_JUDGE_MARKER",
    "JudgeRequest",
    "Ratings",
    "UnusableReply",
    "metric_judge_messages",
    "read_metric_judge_request",
    "read_ratings",
    "shown_code",
]

METRIC_JUDGE_MARKER = "[evolve metric judge]"
METRIC_JUDGE_CALL = "metric_judge"  # the edit_kind of a judge call's record
RATIONALE = "rationale"
MAX_DESCRIPTION_CHARS = 2000  # of the problem's description, shown for context
MAX_REPLY_CHARS = 100_000  # a longer reply is read this far
MAX_OBJECT_STARTS = 200  # "{"s tried as the start of a JSON object
_CRITERIA = "Criteria (rate each from 0 = worst to 1 = best):"
_PROGRAM = "Program to rate:"
_FENCE_OPEN = "```python\n"
_CRITERION_LINE = re.compile(r"- ([a-z0-9_]+):")
_FENCED = re.compile(r"```[A-Za-z0-9_-]*[ \t]*\n(.*?)```", re.DOTALL)


class UnusableReply(ValueError):
    """The judge's reply gives no rating of every criterion; the message says why."""


@dataclass(frozen=True)
class JudgeRequest:
    """What a metric-judge request asks (read back by the test server)."""

    criteria: tuple[str, ...]
    code: str


@dataclass(frozen=True)
class Ratings:
    """A usable reply: a rating in [0, 1] per criterion, and why."""

    values: dict[str, float]
    rationale: str


def shown_code(code: str, max_chars: int) -> str:
    """``code`` as the judge sees it: cut beyond ``max_chars``, with a note."""
    if len(code) <= max_chars:
        return code
    return f"{code[:max_chars]}\n# [evolve: cut here; {len(code) - max_chars} more characters]"


def metric_judge_messages(
    code: str, config: JudgeConfig, problem: str = "", description: str = ""
) -> list[dict[str, str]]:
    """The chat request that asks the judge to rate ``code`` on ``config``'s criteria."""
    keys = ", ".join(f'"{c.name}"' for c in config.criteria)
    system = (
        f"{METRIC_JUDGE_MARKER} You review candidate programs of an evolutionary program "
        "search. A scorer has already measured how well each one works; you rate qualities "
        "it cannot measure, on the criteria the user lists, each from 0 (worst) to 1 (best). "
        "Judge the program as written, not its intent. Answer with one JSON object and "
        f"nothing else: a number from 0 to 1 for each of {keys}, and "
        f'"{RATIONALE}": one or two sentences on why, and on what would raise the lowest '
        "rating."
    )
    if config.instructions.strip():
        system += "\n\n" + config.instructions.strip()
    parts = []
    if problem:
        parts.append(f"Problem: {problem}")
    if description.strip():
        parts.append(_cut(description.strip(), MAX_DESCRIPTION_CHARS))
    lines = [f"- {c.name}: {' '.join(c.description.split()) or c.name}" for c in config.criteria]
    parts.append(_CRITERIA + "\n" + "\n".join(lines))
    body = shown_code(code, config.max_code_chars)
    parts.append(f"{_PROGRAM}\n{_FENCE_OPEN}{body}\n```")
    return [{"role": "system", "content": system}, {"role": "user", "content": "\n\n".join(parts)}]


def read_metric_judge_request(messages: Sequence[Mapping[str, Any]]) -> JudgeRequest | None:
    """The criteria and program of a metric-judge request, or None when
    ``messages`` is not one."""
    if not messages or not isinstance(messages[0], Mapping):
        return None
    if not str(messages[0].get("content") or "").startswith(METRIC_JUDGE_MARKER):
        return None
    last = messages[-1]
    text = str((last.get("content") if isinstance(last, Mapping) else "") or "")
    # the program is last; the criteria, one a line, come just before it
    head, marker, program = text.partition(f"\n\n{_PROGRAM}\n{_FENCE_OPEN}")
    _, listed, criteria = head.rpartition(_CRITERIA + "\n")
    if not marker or not listed:
        return None
    names = tuple(
        m.group(1) for m in (_CRITERION_LINE.match(line) for line in criteria.splitlines()) if m
    )
    if not names:
        return None
    code = program[: -len("\n```")] if program.endswith("\n```") else program
    return JudgeRequest(names, code)


def read_ratings(reply: str | None, names: Sequence[str]) -> Ratings:
    """The ratings of ``names`` in ``reply``; ``UnusableReply`` when it has none."""
    if reply is None:
        raise UnusableReply("the judge call got no reply")
    if not reply.strip():
        raise UnusableReply("the judge's reply was empty")
    best: tuple[int, str] | None = None  # (criteria found, why unusable) of the closest object
    for found in _json_objects(reply[:MAX_REPLY_CHARS]):
        table = _ratings_table(found, names)
        values: dict[str, float] = {}
        problem = ""
        for name in names:
            if name not in table:
                problem = problem or f"no rating of {name!r}"
                continue
            value = _number(table[name])
            if value is None:
                problem = problem or f"{name!r} is {_short(table[name])}, not a number"
                continue
            values[name] = min(1.0, max(0.0, value))
        if not problem:
            return Ratings(values, _rationale(found, table))
        if best is None or len(values) > best[0]:
            best = (len(values), problem)
    if best is None:
        raise UnusableReply(f"no JSON object in the judge's reply: {_short(reply)}")
    raise UnusableReply(f"the judge's reply is unusable: {best[1]}")


# -- reading replies -----------------------------------------------------------


def _json_objects(text: str) -> Iterator[dict[str, Any]]:
    """JSON objects in ``text``: fenced blocks first, then the whole text,
    then any object embedded in prose."""
    for match in _FENCED.finditer(text):
        found = _loads(match.group(1).strip())
        if isinstance(found, dict):
            yield found
    found = _loads(text.strip())
    if isinstance(found, dict):
        yield found
    decoder = json.JSONDecoder()
    start, tried = text.find("{"), 0
    while start != -1 and tried < MAX_OBJECT_STARTS:
        tried += 1
        try:
            found, end = decoder.raw_decode(text, start)
        except (ValueError, RecursionError):
            start = text.find("{", start + 1)
            continue
        if isinstance(found, dict):
            yield found
        start = text.find("{", max(end, start + 1))


def _loads(text: str) -> Any:
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        return None


def _ratings_table(found: Mapping[str, Any], names: Sequence[str]) -> dict[str, Any]:
    """The object's ratings by lower-cased key; a model that nests them under
    "ratings" or "scores" is read there."""
    table = {str(k).strip().lower(): v for k, v in found.items()}
    if not any(n in table for n in names):
        for key in ("ratings", "scores", "criteria"):
            inner = table.get(key)
            if isinstance(inner, Mapping):
                return {str(k).strip().lower(): v for k, v in inner.items()}
    return table


def _number(value: Any) -> float | None:
    """A finite rating from a number or a numeric string; None otherwise."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        try:
            value = float(value.strip())
        except ValueError:
            return None
    if not isinstance(value, int | float):
        return None
    try:
        number = float(value)
    except OverflowError:  # an integer too large for a float
        return None
    return number if math.isfinite(number) else None


def _rationale(found: Mapping[str, Any], table: Mapping[str, Any]) -> str:
    value = table.get(RATIONALE, found.get(RATIONALE, ""))
    if value is None:
        return ""
    if not isinstance(value, str):
        value = json.dumps(value, ensure_ascii=False, default=str)
    return value.strip()


def _short(value: Any, limit: int = 80) -> str:
    text = value if isinstance(value, str) else repr(value)
    text = " ".join(text.split())
    return repr(_cut(text, limit)) if isinstance(value, str) else _cut(text, limit)


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."
