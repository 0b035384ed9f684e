"""Build a run's novelty filter from its ``[novelty]`` table and proposer.

The offline embedder needs nothing; the ``"llm"`` embedder and the judge need
an LLM run, and reach their models through the run's ``LLMProposer``, so
their calls share its budget, its llm_calls table and (the judge's) its
record and replay.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from evolve.config import Problem
from evolve.database import PopulationDatabase
from evolve.errors import ConfigError
from evolve.mutation import Proposer
from evolve.mutation.llm import LLMProposer
from evolve.novelty.embedding import Embedder, HashedEmbedder
from evolve.novelty.filter import NoveltyFilter
from evolve.novelty.judge import JUDGE_CALL, Ask
from evolve.store.embeddings import EmbeddingLog

__all__ = ["LLMEmbedder", "build_novelty_filter", "stored_vectors"]


class LLMEmbedder:
    """The ``[llm.embedding]`` model, behind the ``Embedder`` protocol. A failed
    call gives None: the child is evaluated unchecked rather than lost."""

    @property
    def dimensions(self) -> int | None:
        return None  # the model's, learned from its first reply

    def __init__(self, proposer: LLMProposer) -> None:
        self._proposer = proposer
        spec = proposer.config.embedding
        self.name = f"llm:{spec.key if spec is not None else '?'}"

    async def embed(self, texts: Sequence[str]) -> np.ndarray | None:
        outcome = await self._proposer.embed(texts)
        return outcome.vectors


def build_novelty_filter(
    problem: Problem, proposer: Proposer, database: PopulationDatabase, run_dir: Path
) -> NoveltyFilter | None:
    """The filter ``problem``'s ``[novelty]`` asks for (None when it is off),
    started from the embeddings the run directory already holds (a resume)."""
    config = problem.spec.novelty
    if not config.enabled:
        return None
    where = f"[novelty] of {problem.root}"
    llm = proposer if isinstance(proposer, LLMProposer) else None
    embedder: Embedder
    if config.embedder == "llm":
        if llm is None:
            raise ConfigError(
                f'{where}: embedder = "llm" needs an LLM run (--model llm, with an '
                '[llm.embedding] table); offline, use embedder = "hashed"'
            )
        if llm.embedder is None:
            raise ConfigError(
                f'{where}: embedder = "llm" needs an [llm.embedding] table (name, base_url, '
                'api_key_env); a replayed run cannot call it: use embedder = "hashed"'
            )
        embedder = LLMEmbedder(llm)
    else:
        embedder = HashedEmbedder(config.dimensions, config.ngram)
    judge: Ask | None = None
    if config.judged:
        if llm is None:
            raise ConfigError(
                f"{where}: judge_band = {config.judge_band} asks an LLM novelty judge; run "
                "with --model llm, or set judge_band = 0"
            )
        judge = _judge(llm, config.judge_model or llm.config.models[0].key, where)
    log = EmbeddingLog(run_dir)
    novelty = NoveltyFilter(config, embedder, database, judge=judge, log_=log)
    novelty.rebuild(stored_vectors(log, embedder))
    return novelty


def stored_vectors(log: EmbeddingLog, embedder: Embedder) -> dict[str, np.ndarray]:
    """The evaluated programs' vectors a run kept, when its embedder was this one."""
    stored = log.read()
    if stored is None or stored.embedder != embedder.name:
        return {}
    return {
        row.program_id: stored.vectors[i]
        for i, row in enumerate(stored.rows)
        if row.kind == "program"
    }


def _judge(llm: LLMProposer, model: str, where: str) -> Ask:
    if model not in llm.clients:
        raise ConfigError(
            f"{where}: judge_model {model!r} is not a model of the [llm] table "
            f"(known: {', '.join(llm.clients)})"
        )

    async def ask(messages: Sequence[Mapping[str, Any]], seed: int) -> str | None:
        return await llm.ask(model, messages, seed, JUDGE_CALL)

    return ask
