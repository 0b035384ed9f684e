"""The ``[novelty]`` table: reject a proposed child before it costs an evaluation
when it is too close to a program already on its island (or waiting in the queue).

With a real model, every evaluation a near-copy takes is an evaluation a new
idea does not get. ShinkaEvolve credits much of its sample efficiency to this
check (embedding similarity first, an LLM judge for the close calls); OpenEvolve
checks novelty only after scoring (its issue #439), when the cost is paid.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = ["NoveltyConfig"]


@dataclass(frozen=True)
class NoveltyConfig:
    """``[novelty]``: when a proposed child is too similar to be worth scoring.

    enabled: check every proposed child (off by default).
    embedder: "hashed" (offline: signed hashed token n-grams, no model file)
        or "llm" (the ``[llm.embedding]`` model, any OpenAI-compatible
        ``/v1/embeddings`` endpoint; its calls are accounted like any call).
    threshold: cosine similarity at or above which a child is rejected. The
        default, 0.99, rejects near-copies only: with the hashed embedder a
        one-constant edit of function_minimization's block scores ~0.998
        against its parent. ShinkaEvolve uses 0.95 with an API embedding model,
        whose similarities between programs of one problem sit higher still.
    judge_band: children whose similarity lies in [threshold - judge_band,
        threshold) are shown, beside their nearest program, to an LLM novelty
        judge, which passes or rejects them; 0 (the default) asks no judge.
    judge_model: the ``[llm]`` model (its label or name) that judges; "" is
        the first model of the ensemble.
    max_rejections: after this many rejections in a row, the next child is
        evaluated unchecked, so a converged island still moves (and the run's
        stall guard never fires on novelty alone).
    dimensions, ngram: size of the hashed embedding and the longest token
        n-gram it counts (1..ngram).
    scope: "island" (compare with the child's island) or "all" (with every
        program on any island).
    """

    enabled: bool = False
    embedder: Literal["hashed", "llm"] = "hashed"
    threshold: float = 0.99
    judge_band: float = 0.0
    judge_model: str = ""
    max_rejections: int = 5
    dimensions: int = 256
    ngram: int = 3
    scope: Literal["island", "all"] = "island"

    def __post_init__(self) -> None:
        if not 0.0 < self.threshold <= 1.0:
            raise ValueError(f"threshold must be in (0, 1], got {self.threshold}")
        if not 0.0 <= self.judge_band < self.threshold:
            raise ValueError(
                f"judge_band must be in [0, threshold), got {self.judge_band} "
                f"(threshold {self.threshold})"
            )
        if self.max_rejections < 1:
            raise ValueError(f"max_rejections must be >= 1, got {self.max_rejections}")
        if not 16 <= self.dimensions <= 4096:
            raise ValueError(f"dimensions must be in 16..4096, got {self.dimensions}")
        if not 1 <= self.ngram <= 5:
            raise ValueError(f"ngram must be in 1..5, got {self.ngram}")
        if self.embedder not in ("hashed", "llm"):
            raise ValueError(f'embedder must be "hashed" or "llm", got {self.embedder!r}')
        if self.scope not in ("island", "all"):
            raise ValueError(f'scope must be "island" or "all", got {self.scope!r}')

    @property
    def judged(self) -> bool:
        return self.judge_band > 0
