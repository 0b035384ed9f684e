"""What one LLM call cost and how it went: the ``LLMCall`` record and the
request hash that keys record/replay."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

__all__ = ["CANCELLED", "PREFLIGHT", "LLMCall", "estimate_tokens", "messages_json", "prompt_hash"]

Messages = Sequence[Mapping[str, Any]]

# The ``error`` of a call cancelled because the run stopped (max_time, Ctrl-C,
# budget, target): an error text rather than a column of its own, so the
# llm_calls table keeps its schema and old runs read as before. Readers tell
# it from a failure by this prefix.
CANCELLED = "cancelled: the run stopped"

# The ``edit_kind`` of a start-up check call (``client.check_models``): accounted
# like every call, but no proposal of the run.
PREFLIGHT = "preflight"


@dataclass(frozen=True)
class LLMCall:
    """One logical call (all its HTTP attempts), successful or not.

    ``retries`` counts attempts after the first. ``usage_estimated`` is True
    when the reply carried no usage and the token counts are estimates from
    the text length. A failed call has ``error`` set and costs 0 (providers do
    not bill failed requests; a timed-out one may have been, which is
    unknowable from here).

    ``messages`` is the JSON of the chat messages sent and ``completion`` the
    text the model returned (None when no reply arrived): what a trace export
    (``evolve.analysis.traces``) turns into fine-tuning records.
    """

    id: str
    model: str
    prompt_tokens: int
    completion_tokens: int
    cost_usd: float
    latency_s: float
    retries: int
    error: str | None
    prompt_hash: str
    edit_kind: str
    created_at: float
    usage_estimated: bool = False
    finish_reason: str | None = None
    replayed: bool = False
    messages: str | None = None
    completion: str | None = None
    prompt_variant: str | None = None  # the [meta] system-prompt variant a proposal used

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def prompt_hash(
    model: str, messages: Messages, temperature: float, max_tokens: int, seed: int | None
) -> str:
    """sha256 of the canonical JSON of the request: the record/replay key.

    The seed is part of the request (sent as ``seed``), so two proposals with
    the same prompt but different seeds are different requests and replay
    answers each with its own recorded completion.
    """
    canonical = json.dumps(
        {
            "model": model,
            "messages": [dict(m) for m in messages],
            "temperature": temperature,
            "max_tokens": max_tokens,
            "seed": seed,
        },
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def messages_json(messages: Messages) -> str:
    """The chat messages as stored in the ``messages`` column: a JSON list,
    exactly as sent (non-ASCII kept as is)."""
    return json.dumps([dict(m) for m in messages], ensure_ascii=False)


def estimate_tokens(text: str) -> int:
    """Rough token count (about 4 characters a token for English and code)."""
    return (len(text) + 3) // 4


def messages_text(messages: Messages) -> str:
    """All message contents joined, for token estimates."""
    return "\n".join(str(m.get("content") or "") for m in messages)
