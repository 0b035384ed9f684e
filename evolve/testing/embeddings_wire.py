"""The OpenAI embeddings wire format (``POST /v1/embeddings``), server side.

The mutator server answers embedding requests with the offline hashed n-gram
embedder, so a run configured with ``[llm.embedding]`` is tested over the real
protocol: the ``openai`` client's request (``input`` a string or a list of
strings, ``dimensions``, ``encoding_format`` "float" or "base64") and the
answer it parses (``data[i].embedding``, ``usage``). Token-array inputs are
refused with the error a server that only takes text would give.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from evolve.testing.wire import RequestError, estimate_tokens, request_body

__all__ = [
    "DEFAULT_EMBEDDING_DIMENSIONS",
    "MAX_EMBEDDING_INPUTS",
    "EmbeddingRequest",
    "embedding_body",
    "parse_embedding_request",
]

DEFAULT_EMBEDDING_DIMENSIONS = 256
MAX_EMBEDDING_INPUTS = 2048  # OpenAI's limit on inputs per request
MAX_EMBEDDING_DIMENSIONS = 4096


@dataclass(frozen=True)
class EmbeddingRequest:
    """The parts of an embeddings request that shape the answer."""

    model: str
    inputs: list[str]
    dimensions: int
    encoding_format: str  # "float" or "base64"


def parse_embedding_request(raw: bytes) -> EmbeddingRequest:
    """The request in ``raw``, or a ``RequestError`` saying what is wrong with it."""
    body, model = request_body(raw)
    return EmbeddingRequest(
        model=model,
        inputs=_inputs(body.get("input")),
        dimensions=_dimensions(body.get("dimensions")),
        encoding_format=_encoding(body.get("encoding_format")),
    )


def _inputs(value: Any) -> list[str]:
    texts = [value] if isinstance(value, str) else value
    if not isinstance(texts, list) or not texts:
        raise RequestError(
            400, "'input' must be a string or a non-empty array of strings", param="input"
        )
    if len(texts) > MAX_EMBEDDING_INPUTS:
        raise RequestError(
            400, f"'input' may hold at most {MAX_EMBEDDING_INPUTS} items", param="input"
        )
    for item in texts:
        if not isinstance(item, str):
            raise RequestError(
                400,
                "'input' items must be strings (this server does not take token arrays)",
                param="input",
            )
        if not item:
            raise RequestError(400, "'input' items must not be empty strings", param="input")
    return list(texts)


def _dimensions(value: Any) -> int:
    if value is None:
        return DEFAULT_EMBEDDING_DIMENSIONS
    if isinstance(value, bool) or not isinstance(value, int):
        raise RequestError(
            400, f"'dimensions' must be an integer, got {value!r}", param="dimensions"
        )
    if not 1 <= value <= MAX_EMBEDDING_DIMENSIONS:
        raise RequestError(
            400,
            f"'dimensions' must be in 1..{MAX_EMBEDDING_DIMENSIONS}, got {value}",
            param="dimensions",
        )
    return value


def _encoding(value: Any) -> str:
    if value is None:
        return "float"
    if value not in ("float", "base64"):
        raise RequestError(
            400,
            f"'encoding_format' must be 'float' or 'base64', got {value!r}",
            param="encoding_format",
        )
    return str(value)


def embedding_body(request: EmbeddingRequest, vectors: np.ndarray) -> dict[str, Any]:
    """The JSON answer for ``request``, one row of ``vectors`` per input."""
    data: list[dict[str, Any]] = []
    for index, row in enumerate(np.asarray(vectors, dtype=np.float32)):
        embedding: str | list[float]
        if request.encoding_format == "base64":
            embedding = base64.b64encode(row.astype("<f4").tobytes()).decode("ascii")
        else:
            embedding = [float(x) for x in row]
        data.append({"object": "embedding", "index": index, "embedding": embedding})
    tokens = _tokens(request.inputs)
    return {
        "object": "list",
        "data": data,
        "model": request.model,
        "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
    }


def _tokens(texts: Sequence[str]) -> int:
    return sum(estimate_tokens(text) for text in texts)
