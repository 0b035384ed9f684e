"""The OpenAI chat-completions wire format, as much of it as clients rely on.

Kept apart from the HTTP plumbing so the shapes can be read (and checked
against the official client) in one place. Only the fields the ``openai``
client, OpenEvolve and ShinkaEvolve read are produced; unknown request fields
(temperature, top_p, ...) are accepted and ignored, as a model server would.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = [
    "MAX_CHOICES",
    "ChatRequest",
    "RequestError",
    "chunk_body",
    "completion_body",
    "error_body",
    "estimate_tokens",
    "message_text",
    "model_body",
    "models_body",
    "parse_chat_request",
    "request_body",
    "request_seed",
    "stream_chunks",
]

MAX_CHOICES = 8  # "n": enough for any sampler, small enough to bound the work


class RequestError(Exception):
    """A request the server refuses, with what OpenAI would answer."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        type: str = "invalid_request_error",
        code: str | None = None,
        param: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.type = type
        self.code = code
        self.param = param


@dataclass(frozen=True)
class ChatRequest:
    """The parts of a chat-completion request that shape the answer."""

    model: str
    messages: list[dict[str, Any]]
    seed: int | None
    n: int
    stream: bool
    include_usage: bool
    max_tokens: int | None


def estimate_tokens(text: str) -> int:
    """Deterministic token estimate: ceil(characters / 4), the usual rule of
    thumb for English and code with BPE tokenizers. Good enough for budgets and
    cost tables; a tokenizer would be a dependency and differs per model."""
    return math.ceil(len(text) / 4)


def message_text(message: Mapping[str, Any]) -> str:
    """A message's text: a string content, or the "text" of its content parts
    (the same rule the offline mutator uses to find the programs)."""
    content = message.get("content") or ""
    if isinstance(content, list):
        return "".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
    return str(content)


def _int_field(body: Mapping[str, Any], name: str, low: int, high: int | None) -> int | None:
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise RequestError(400, f"'{name}' must be an integer, got {value!r}", param=name)
    if value < low or (high is not None and value > high):
        bound = f">= {low}" if high is None else f"between {low} and {high}"
        raise RequestError(400, f"'{name}' must be {bound}, got {value}", param=name)
    return value


def request_body(raw: bytes) -> tuple[dict[str, Any], str]:
    """(the JSON object of a request body, its "model"); ``RequestError`` (400)
    when it is not JSON, not an object, or names no model."""
    try:
        body = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise RequestError(400, f"the request body is not valid JSON: {exc}") from exc
    if not isinstance(body, dict):
        raise RequestError(400, "the request body must be a JSON object")
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise RequestError(400, "'model' is required and must be a string", param="model")
    return body, model


def parse_chat_request(raw: bytes) -> ChatRequest:
    """Validate a request body; ``RequestError`` (400) says what is wrong."""
    body, model = request_body(raw)
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise RequestError(400, "'messages' must be a non-empty array", param="messages")
    for i, message in enumerate(messages):
        if not isinstance(message, dict) or not isinstance(message.get("role"), str):
            raise RequestError(
                400, f"messages[{i}] must be an object with a string 'role'", param="messages"
            )
        content = message.get("content")
        if content is not None and not isinstance(content, str | list):
            raise RequestError(
                400, f"messages[{i}].content must be a string or an array", param="messages"
            )
    stream = body.get("stream", False)
    if stream is not None and not isinstance(stream, bool):
        raise RequestError(400, "'stream' must be a boolean", param="stream")
    options = body.get("stream_options") or {}
    if not isinstance(options, dict):
        raise RequestError(400, "'stream_options' must be an object", param="stream_options")
    max_tokens = _int_field(body, "max_completion_tokens", 1, None)
    if max_tokens is None:
        max_tokens = _int_field(body, "max_tokens", 1, None)
    return ChatRequest(
        model=model,
        messages=messages,
        seed=_int_field(body, "seed", -(2**63), 2**64 - 1),
        n=_int_field(body, "n", 1, MAX_CHOICES) or 1,
        stream=bool(stream),
        include_usage=bool(options.get("include_usage", False)),
        max_tokens=max_tokens,
    )


def request_seed(
    server_seed: int, request: ChatRequest, choice: int = 0, nonce: int | None = None
) -> int:
    """The mutator seed for one choice: a hash of (server seed, request seed,
    choice index, each message's role and text), so the same request always
    gets the same edit and the server seed alone changes every answer. Only
    role and text count: a string content and the same text as content parts
    are the same prompt. ``nonce`` (the request number, for servers started
    with ``vary``) makes identical prompts differ, like sampling at
    temperature > 0."""
    messages = [[str(m.get("role")), message_text(m)] for m in request.messages]
    key = json.dumps(
        [server_seed, request.seed, choice, nonce, messages],
        sort_keys=True,
        ensure_ascii=False,
        separators=(",", ":"),
    )
    return int.from_bytes(hashlib.sha256(key.encode("utf-8")).digest()[:8], "big")


def error_body(err: RequestError) -> dict[str, Any]:
    """OpenAI's error object: ``{"error": {message, type, param, code}}``."""
    return {
        "error": {"message": err.message, "type": err.type, "param": err.param, "code": err.code}
    }


def _truncate(text: str, max_tokens: int | None) -> tuple[str, str]:
    """(content, finish_reason): a reply longer than max_tokens is cut, as a
    model's would be, and says so with "length"."""
    if max_tokens is not None and estimate_tokens(text) > max_tokens:
        return text[: max_tokens * 4], "length"
    return text, "stop"


def _usage(request: ChatRequest, contents: Sequence[str]) -> dict[str, int]:
    prompt = sum(estimate_tokens(message_text(m)) for m in request.messages)
    completion = sum(estimate_tokens(c) for c in contents)
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    }


def completion_body(
    request: ChatRequest, replies: Sequence[str], *, completion_id: str, created: int
) -> dict[str, Any]:
    """A ``chat.completion`` object; ``replies`` empty gives empty choices."""
    choices, contents = [], []
    for index, reply in enumerate(replies):
        content, finish = _truncate(reply, request.max_tokens)
        contents.append(content)
        choices.append(
            {
                "index": index,
                "message": {"role": "assistant", "content": content, "refusal": None},
                "logprobs": None,
                "finish_reason": finish,
            }
        )
    return {
        "id": completion_id,
        "object": "chat.completion",
        "created": created,
        "model": request.model,
        "system_fingerprint": "evolve-offline",
        "choices": choices,
        "usage": _usage(request, contents),
    }


def chunk_body(
    request: ChatRequest,
    *,
    completion_id: str,
    created: int,
    choices: list[dict[str, Any]],
    usage: Sequence[str] | None = None,
) -> dict[str, Any]:
    """A ``chat.completion.chunk`` for streaming; ``usage`` (the replies) is
    given only for the final usage chunk of ``stream_options.include_usage``."""
    body: dict[str, Any] = {
        "id": completion_id,
        "object": "chat.completion.chunk",
        "created": created,
        "model": request.model,
        "system_fingerprint": "evolve-offline",
        "choices": choices,
    }
    if request.include_usage:
        body["usage"] = None if usage is None else _usage(request, usage)
    return body


def stream_chunks(
    request: ChatRequest, replies: Sequence[str], *, completion_id: str, created: int
) -> list[dict[str, Any]]:
    """The chunks of a streamed answer, in order: per choice a role delta,
    content deltas of up to 64 characters, and a finish delta; then a usage
    chunk if asked for. No replies gives one chunk with empty choices."""

    def chunk(choices: list[dict[str, Any]], usage: Sequence[str] | None = None) -> dict[str, Any]:
        return chunk_body(
            request, completion_id=completion_id, created=created, choices=choices, usage=usage
        )

    out: list[dict[str, Any]] = []
    contents = []
    for index, reply in enumerate(replies):
        content, finish = _truncate(reply, request.max_tokens)
        contents.append(content)
        delta: dict[str, Any] = {"role": "assistant", "content": ""}
        out.append(chunk([{"index": index, "delta": delta, "finish_reason": None}]))
        for start in range(0, len(content), 64):
            piece = {"content": content[start : start + 64]}
            out.append(chunk([{"index": index, "delta": piece, "finish_reason": None}]))
        out.append(chunk([{"index": index, "delta": {}, "finish_reason": finish}]))
    if not replies:
        out.append(chunk([]))
    if request.include_usage:
        out.append(chunk([], usage=contents))
    return out


def models_body(model: str, created: int) -> dict[str, Any]:
    """``GET /v1/models``: the one model this server is."""
    return {"object": "list", "data": [model_body(model, created)]}


def model_body(model: str, created: int) -> dict[str, Any]:
    return {"id": model, "object": "model", "created": created, "owned_by": "evolve"}
