"""The mutator server's deterministic metric judge (``[judge]`` of a problem).

A metric-judge request (``evolve.judging``'s marker in its system message) is
answered with ratings computed from the program it shows, so a run through the
server, and its replay, rate every candidate the same way every time:

* ``simplicity`` = 1 / (1 + lines / 40), ``lines`` the program's non-empty
  lines: shorter programs rate higher;
* any other criterion: a hash of (criterion name, code), in [0, 1].

The reply is what a chat model tends to write: a sentence, then the JSON
object in a ```json fence, so a run's parsing of fenced replies is exercised.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from typing import Any

from evolve.judging import read_metric_judge_request

__all__ = ["judged_rating", "metric_judge_reply"]

SIMPLICITY_LINES = 40.0  # the line count at which simplicity is 0.5


def judged_rating(criterion: str, code: str) -> float:
    """The server's rating of ``code`` on ``criterion``, in [0, 1] (4 decimals)."""
    if criterion == "simplicity":
        return round(1.0 / (1.0 + _lines(code) / SIMPLICITY_LINES), 4)
    digest = hashlib.sha256(f"{criterion}\0{code}".encode()).digest()
    return round(int.from_bytes(digest[:8], "big") / float(2**64 - 1), 4)


def metric_judge_reply(messages: Sequence[Mapping[str, Any]]) -> str | None:
    """The reply to a metric-judge request, or None when ``messages`` is not one."""
    request = read_metric_judge_request(messages)
    if request is None:
        return None
    ratings: dict[str, Any] = {name: judged_rating(name, request.code) for name in request.criteria}
    ratings["rationale"] = (
        f"The program has {_lines(request.code)} non-empty lines (simplicity falls as it "
        "grows); the other ratings are the test server's hash of the code."
    )
    body = json.dumps(ratings, indent=2)
    return f"Here is my assessment of the program.\n\n```json\n{body}\n```\n"


def _lines(code: str) -> int:
    return sum(1 for line in code.splitlines() if line.strip())
