"""Novelty before evaluation: reject a proposed child that is too close to a
program already on its island (or queued) before it costs an evaluation.

``embedding`` turns programs into unit vectors (an offline hashed n-gram
embedder, or the ``[llm.embedding]`` model); ``index`` keeps them per island
and for the queue and finds the nearest; ``judge`` asks an LLM about the close
calls; ``filter`` makes the decision and follows the database; ``setup``
builds it from ``[novelty]`` (``evolve.config.novelty``).

May import ``config``, ``database``, ``edits``, ``mutation``, ``records``,
``errors`` and ``store`` (the embedding log); the engine calls it, never the
other way round.
"""

from evolve.novelty.embedding import Embedder, HashedEmbedder, embedding_text
from evolve.novelty.filter import NoveltyFilter, NoveltyStats, Verdict
from evolve.novelty.index import Neighbour, VectorIndex
from evolve.novelty.judge import JUDGE_CALL, JUDGE_MARKER, judged_programs, read_judgement
from evolve.novelty.setup import build_novelty_filter

__all__ = [
    "JUDGE_CALL",
    "JUDGE_MARKER",
    "Embedder",
    "HashedEmbedder",
    "Neighbour",
    "NoveltyFilter",
    "NoveltyStats",
    "VectorIndex",
    "Verdict",
    "build_novelty_filter",
    "embedding_text",
    "judged_programs",
    "read_judgement",
]
