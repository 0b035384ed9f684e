"""The LLM novelty judge: for a child whose similarity to its nearest program
falls just below the rejection threshold, a model reads both and says whether
the child tries something new (ShinkaEvolve's second stage of novelty
rejection sampling).

The request carries ``JUDGE_MARKER`` in its system message, so the mutator
server (``evolve mutator serve``) can tell it from a proposal and answer it
deterministically, and the record/replay key sets it apart from any proposal.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

__all__ = [
    "JUDGE_CALL",
    "JUDGE_MARKER",
    "Ask",
    "judge_messages",
    "judged_programs",
    "read_judgement",
]

JUDGE_MARKER = "[evolve novelty judge]"
JUDGE_CALL = "novelty_judge"  # the edit_kind of a judge call's record
_CANDIDATE, _NEAREST = "Proposed program:", "Most similar program already in the population:"

# (messages, seed) -> the reply text, or None when no reply came
Ask = Callable[[Sequence[Mapping[str, Any]], int], Awaitable[str | None]]


def judge_messages(candidate: str, nearest: str, similarity: float) -> list[dict[str, str]]:
    """The chat request that asks whether ``candidate`` is novel beside ``nearest``."""
    system = (
        f"{JUDGE_MARKER} You review candidates of an evolutionary program search before "
        "they are evaluated, which is expensive. Decide whether the proposed program tries "
        "a meaningfully different idea from the most similar program already evaluated "
        "(a new algorithm, structure or strategy), or only restates it (renamed variables, "
        "reordered lines, a tweaked constant, cosmetic edits). Answer on the first line "
        "with exactly NOVEL or NOT NOVEL, then one sentence on why."
    )
    user = (
        f"Embedding cosine similarity: {similarity:.3f}\n\n"
        f"{_NEAREST}\n```\n{nearest}\n```\n\n{_CANDIDATE}\n```\n{candidate}\n```"
    )
    return [{"role": "system", "content": system}, {"role": "user", "content": user}]


def judged_programs(messages: Sequence[Mapping[str, Any]]) -> tuple[str, str] | None:
    """(candidate, nearest) of a judge request, or None when it is not one
    (what the mutator server uses to answer it)."""
    if not messages or JUDGE_MARKER not in str(messages[0].get("content") or ""):
        return None
    text = str(messages[-1].get("content") or "")
    try:
        before, candidate = text.split(f"{_CANDIDATE}\n```\n", 1)
        nearest = before.split(f"{_NEAREST}\n```\n", 1)[1]
    except (IndexError, ValueError):
        return None
    return candidate.rsplit("\n```", 1)[0], nearest.rsplit("\n```", 1)[0]


def read_judgement(reply: str | None) -> bool | None:
    """True (novel), False (not novel), or None (no reply, or none of the two
    answers on its first non-empty line)."""
    if not reply:
        return None
    for line in reply.splitlines():
        words = line.strip().strip("*#`_:.").upper()
        if not words:
            continue
        if words.startswith("NOT NOVEL"):
            return False
        if words.startswith("NOVEL"):
            return True
        return None
    return None
