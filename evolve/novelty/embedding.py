"""Embeddings of programs: what "similar" means for the novelty check.

The offline embedder needs no model file and no network: it counts a
program's token n-grams (1..n) into a fixed number of signed hashed buckets
(the "hashing trick") and normalises the vector, so the cosine of two
programs is high when they share most of their token sequences. It is cheap
(numpy over the token hashes, no Python loop per n-gram) and deterministic
across processes and machines (CRC-32, not Python's salted ``hash``), so the
mutator server's ``/v1/embeddings`` answers with the very same vectors.

Only what evolves is embedded: the EVOLVE-BLOCK bodies, when the program has
them. The fixed code around them is the same in every program of a run and
would only pull every cosine towards 1.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Sequence
from typing import Protocol

import numpy as np

from evolve.edits import MarkerError, region_bodies

__all__ = ["Embedder", "HashedEmbedder", "embedding_text", "normalized"]

_TOKEN = re.compile(r"[A-Za-z_]\w*|\d+(?:\.\d*)?(?:[eE][-+]?\d+)?|\S")
# Odd 64-bit multipliers that mix the hashes of an n-gram's tokens by position.
_MIX = np.array(
    [
        0x9E3779B97F4A7C15,
        0xC2B2AE3D27D4EB4F,
        0x165667B19E3779F9,
        0x27D4EB2F165667C5,
        0xFF51AFD7ED558CCD,
    ],
    dtype=np.uint64,
)


class Embedder(Protocol):
    """Turns program texts into unit vectors (one row each, float32)."""

    name: str

    @property
    def dimensions(self) -> int | None:
        """The vectors' length; None: whatever the model returns."""
        ...

    async def embed(self, texts: Sequence[str]) -> np.ndarray | None:
        """One row per text, or None when the embedder could give none."""
        ...


def embedding_text(code: str) -> str:
    """The part of ``code`` that is embedded: its EVOLVE-BLOCK bodies, or all of
    it when it has none (or its markers do not parse)."""
    try:
        bodies = region_bodies(code)
    except MarkerError:
        return code
    return "\n".join(bodies) if bodies else code


def normalized(rows: np.ndarray) -> np.ndarray:
    """``rows`` scaled to unit length (a zero row stays zero), as float32."""
    rows = np.asarray(rows, dtype=np.float32)
    if rows.ndim == 1:
        rows = rows[None, :]
    norms = np.linalg.norm(rows, axis=1, keepdims=True)
    out: np.ndarray = np.divide(rows, norms, out=np.zeros_like(rows), where=norms > 0)
    return out


class HashedEmbedder:
    """Signed hashed token n-grams, 1..``ngram``, into ``dimensions`` buckets."""

    name = "hashed"

    def __init__(self, dimensions: int = 256, ngram: int = 3) -> None:
        if dimensions < 1 or not 1 <= ngram <= len(_MIX):
            raise ValueError(f"need dimensions >= 1 and ngram in 1..{len(_MIX)}")
        self._dimensions = dimensions
        self.ngram = ngram
        self._token_hashes: dict[str, int] = {}  # tokens repeat: hash each once

    @property
    def dimensions(self) -> int:
        return self._dimensions

    async def embed(self, texts: Sequence[str]) -> np.ndarray:
        return self.embed_now(texts)

    def embed_now(self, texts: Sequence[str]) -> np.ndarray:
        """The embeddings of ``texts`` (synchronous: no I/O)."""
        out = np.zeros((len(texts), self.dimensions), dtype=np.float32)
        for row, text in enumerate(texts):
            out[row] = self.vector(text)
        return out

    def vector(self, text: str) -> np.ndarray:
        """One text's unit vector."""
        hashes = self._hashes(_TOKEN.findall(text))
        counts = np.zeros(self.dimensions, dtype=np.float64)
        for n in range(1, min(self.ngram, len(hashes)) + 1):
            grams = hashes[: len(hashes) - n + 1] * _MIX[0]
            for k in range(1, n):
                grams = grams ^ (hashes[k : len(hashes) - n + 1 + k] * _MIX[k])
            grams = grams ^ (grams >> np.uint64(29))
            buckets = (grams % np.uint64(self.dimensions)).astype(np.int64)
            signs = np.where(grams & np.uint64(1 << 40), 1.0, -1.0)
            counts += np.bincount(buckets, weights=signs, minlength=self.dimensions)
        vector: np.ndarray = normalized(counts)[0]
        return vector

    def _hashes(self, tokens: list[str]) -> np.ndarray:
        cache = self._token_hashes
        if len(cache) > 200_000:  # a run's vocabulary is small; garbage is not kept
            cache.clear()
        values = []
        for token in tokens:
            value = cache.get(token)
            if value is None:
                value = cache[token] = zlib.crc32(token.encode("utf-8")) | 1 << 32
            values.append(value)
        return np.array(values, dtype=np.uint64)
