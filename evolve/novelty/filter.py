"""The novelty check of a proposed child, before it costs an evaluation.

Each child is embedded (``embedding``) and compared with the valid programs
on its island and with the children already waiting for or in evaluation
(``index``). At or above ``threshold`` it is rejected; in the judge band just
below, an LLM judge decides (``judge``); below, it passes. A rejected child is
recorded with its nearest program and the similarity, and its slot proposes
again (the pipeline gives the evaluation back). Programs that failed are not
compared: a child close to a failed program may be its fix.

The island side of the index follows the database: each program added is
placed on its island (the seed on all), and the islands an event changed
(migration, eviction, reset, ...) are read again from the database, so the
index holds exactly the valid members of each island whatever the database did.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from evolve.config import NoveltyConfig
from evolve.database import Event, PopulationDatabase
from evolve.novelty.embedding import Embedder, HashedEmbedder, embedding_text, normalized
from evolve.novelty.index import Neighbour, VectorIndex
from evolve.novelty.judge import Ask, judge_messages, read_judgement
from evolve.records import Program, Status
from evolve.store.embeddings import EmbeddingLog, EmbeddingRow

__all__ = ["NoveltyFilter", "NoveltyStats", "Verdict"]

log = logging.getLogger("evolve.novelty")


@dataclass(frozen=True)
class Verdict:
    """What the check of one child found."""

    novel: bool
    vector: np.ndarray | None  # None: the embedder gave none (the child passes unchecked)
    nearest: Neighbour | None = None
    judge: str = ""  # "", "novel", "not novel", "no answer" (then it passes)
    unchecked: str = ""  # why it passed without a check, if it did

    def details(self) -> dict[str, Any]:
        """The fields a rejection event carries."""
        out: dict[str, Any] = {}
        if self.nearest is not None:
            out["nearest_id"] = self.nearest.program_id
            out["similarity"] = round(self.nearest.similarity, 6)
        if self.judge:
            out["judge"] = self.judge
        return out


@dataclass
class NoveltyStats:
    """Counters for the run's summary and the benchmark."""

    checked: int = 0
    rejected: int = 0
    judged: int = 0
    judge_rejected: int = 0
    unchecked: int = 0
    embed_seconds: float = 0.0
    search_seconds: float = 0.0
    similarities: list[float] = field(default_factory=list)


class NoveltyFilter:
    """Decides whether a proposed child is novel enough to evaluate."""

    def __init__(
        self,
        config: NoveltyConfig,
        embedder: Embedder,
        database: PopulationDatabase,
        *,
        judge: Ask | None = None,
        log_: EmbeddingLog | None = None,
    ) -> None:
        if config.judged and judge is None:
            raise ValueError("[novelty] judge_band > 0 needs a judge (an LLM run)")
        self.config = config
        self.embedder = embedder
        self.database = database
        self.judge = judge
        self.log = log_
        self.stats = NoveltyStats()
        self._dimensions = embedder.dimensions
        self.index: VectorIndex | None = (
            None if self._dimensions is None else VectorIndex(self._dimensions)
        )
        self._unplaced: dict[str, set[int]] = {}  # valid members whose vector is still unknown
        self._in_a_row = 0  # novelty rejections since the last child that passed
        self._checked: dict[str, Verdict] = {}  # held children's verdicts, until settled

    # -- the check ------------------------------------------------------------------

    async def check(self, child: Program, seed: int) -> Verdict:
        """The verdict on ``child`` (proposed for ``child.island``)."""
        started = time.perf_counter()
        vectors = await self._embed([embedding_text(child.code)])
        self.stats.embed_seconds += time.perf_counter() - started
        if vectors is None:
            self.stats.unchecked += 1
            return Verdict(True, None, unchecked="the embedding call failed")
        vector = vectors[0]
        await self._place_unplaced()
        nearest = self._nearest(child, vector)
        verdict = self._let_through(vector, nearest) or self._by_threshold(vector, nearest)
        if verdict is None:
            verdict = await self._judged(child, vector, nearest, seed)
        return self._counted(child, verdict)

    @property
    def checks_in_order(self) -> bool:
        """Whether ``check_now`` works: the embedder needs no call and no judge is
        asked, so the check can run synchronously at the child's turn (the
        ``--deterministic`` schedule, where a check must not depend on timing)."""
        return isinstance(self.embedder, HashedEmbedder) and not self.config.judged

    def check_now(self, child: Program) -> Verdict:
        """``check`` without awaiting anything (see ``checks_in_order``)."""
        embedder = self.embedder
        if not isinstance(embedder, HashedEmbedder) or self.config.judged:
            raise RuntimeError("check_now needs the hashed embedder and no judge")
        started = time.perf_counter()
        vector = self._sized(embedder.embed_now([embedding_text(child.code)]))[0]
        self.stats.embed_seconds += time.perf_counter() - started
        if self._unplaced:
            taken = self._take_unplaced()
            texts = [embedding_text(self.database.get(i).code) for i in taken]
            self._place_taken(taken, self._sized(embedder.embed_now(texts)))
        nearest = self._nearest(child, vector)
        verdict = self._let_through(vector, nearest) or self._by_threshold(vector, nearest)
        assert verdict is not None  # no judge band
        return self._counted(child, verdict)

    def _nearest(self, child: Program, vector: np.ndarray) -> Neighbour | None:
        index = self._index()
        started = time.perf_counter()
        nearest = index.nearest(vector, self._islands_for(child.island))
        self.stats.search_seconds += time.perf_counter() - started
        self.stats.checked += 1
        if nearest is not None:
            self.stats.similarities.append(nearest.similarity)
        return nearest

    def _let_through(self, vector: np.ndarray, nearest: Neighbour | None) -> Verdict | None:
        """The unchecked pass after ``max_rejections`` rejections in a row."""
        if self._in_a_row < self.config.max_rejections:
            return None
        self._in_a_row = 0
        self.stats.unchecked += 1
        why = f"{self.config.max_rejections} rejections in a row"
        return Verdict(True, vector, nearest, unchecked=why)

    def _by_threshold(self, vector: np.ndarray, nearest: Neighbour | None) -> Verdict | None:
        """Novel below the judge band, not novel at the threshold, None between."""
        threshold = self.config.threshold
        if nearest is None or nearest.similarity < threshold - self.config.judge_band:
            return Verdict(True, vector, nearest)
        if nearest.similarity >= threshold:
            return Verdict(False, vector, nearest)
        return None

    def _counted(self, child: Program, verdict: Verdict) -> Verdict:
        if verdict.novel:
            if not verdict.unchecked:
                self._in_a_row = 0
        else:
            self._in_a_row += 1
            self.stats.rejected += 1
            self._log_rejected(child, verdict)
        return verdict

    def recheck(self, vector: np.ndarray) -> Neighbour | None:
        """The queued child that ``vector`` is too close to (one held since the
        check, by a proposal that finished meanwhile), or None."""
        index = self._index()
        nearest = index.pending.nearest(vector)
        if nearest is not None and nearest.similarity >= self.config.threshold:
            return nearest
        return None

    def hold(self, child: Program, verdict: Verdict) -> None:
        """``child`` is queued for evaluation: later children are compared with it."""
        if verdict.vector is not None:
            self._index().hold(child.id, verdict.vector)
            self._checked[child.id] = verdict

    def release(self, child_id: str) -> None:
        """``child_id`` left the queue without being added (dropped as stale)."""
        if self.index is not None:
            self.index.release(child_id)
        self._checked.pop(child_id, None)

    # -- following the database -------------------------------------------------------

    def added(self, program: Program, events: Sequence[Event]) -> None:
        """``program`` was added to the database, with ``events``."""
        verdict = self._checked.pop(program.id, None)
        index = self.index
        if index is not None:
            index.release(program.id)
            index.ensure_islands(self.database.num_islands)
        if verdict is not None and verdict.vector is not None:
            self._remember(program, verdict)
        if program.status == Status.OK:
            islands = (
                range(self.database.num_islands) if not program.parent_ids else [program.island]
            )
            for island in islands:
                self._place(island, program.id)
        touched: set[int] = set()
        for event in events:
            for name in ("island", "target_island"):
                value = getattr(event, name, None)
                if isinstance(value, int):
                    touched.add(value)
            if not hasattr(event, "island") and not hasattr(event, "target_island"):
                touched.update(range(self.database.num_islands))  # an event of a new kind
        for island in sorted(touched):
            self._resync(island)

    def rebuild(self, stored: dict[str, np.ndarray]) -> None:
        """Start from the database as it is (a resume) and the vectors ``stored``."""
        if self.index is not None:
            for program_id, vector in stored.items():
                if vector.shape == (self.index.dimensions,):
                    self.index.vectors[program_id] = vector
        for island in range(self.database.num_islands):
            self._resync(island)

    def flush(self) -> None:
        if self.log is not None and self._dimensions is not None:
            self.log.flush(self.embedder.name, self._dimensions)

    # -- internals ------------------------------------------------------------------

    def _islands_for(self, island: int) -> range | list[int]:
        if self.config.scope == "all":
            return range(self.database.num_islands)
        return [island]

    async def _judged(
        self, child: Program, vector: np.ndarray, nearest: Neighbour | None, seed: int
    ) -> Verdict:
        """The LLM judge's verdict on a child in the band below the threshold."""
        assert self.judge is not None and nearest is not None  # checked in __init__
        self.stats.judged += 1
        other = self._code_of(nearest.program_id)
        messages = judge_messages(
            embedding_text(child.code), embedding_text(other), nearest.similarity
        )
        answer = read_judgement(await self.judge(messages, seed))
        if answer is None:
            return Verdict(True, vector, nearest, judge="no answer")
        if not answer:
            self.stats.judge_rejected += 1
        return Verdict(answer, vector, nearest, judge="novel" if answer else "not novel")

    def _code_of(self, program_id: str) -> str:
        if program_id in self.database:
            return self.database.get(program_id).code
        return ""  # a queued child: the judge sees only the candidate

    async def _embed(self, texts: list[str]) -> np.ndarray | None:
        vectors = await self.embedder.embed(texts)
        return None if vectors is None else self._sized(vectors)

    def _sized(self, vectors: np.ndarray) -> np.ndarray:
        """``vectors`` as unit rows; the first ones size the index (a model's
        dimensions are learned from its first answer)."""
        vectors = normalized(vectors)
        if self.index is None:
            self._dimensions = int(vectors.shape[1])
            self.index = VectorIndex(self._dimensions)
            self.index.ensure_islands(self.database.num_islands)
        return vectors

    async def _place_unplaced(self) -> None:
        """Embed the valid island members that have no vector yet (the seed, a
        program added unchecked, or one whose vector a crash lost)."""
        if not self._unplaced:
            return
        # Taken out before the (awaited) call, so a check running meanwhile
        # does not embed them again; put back if the call gives nothing.
        taken = self._take_unplaced()
        vectors = await self._embed([embedding_text(self.database.get(i).code) for i in taken])
        if vectors is None:
            for program_id, islands in taken.items():  # tried again at the next check
                self._unplaced.setdefault(program_id, set()).update(islands)
            return
        self._place_taken(taken, vectors)

    def _take_unplaced(self) -> dict[str, set[int]]:
        taken = {i: self._unplaced[i] for i in sorted(self._unplaced)}
        self._unplaced.clear()
        return taken

    def _place_taken(self, taken: dict[str, set[int]], vectors: np.ndarray) -> None:
        index = self._index()
        members: dict[int, set[str]] = {}  # read once per island, not once per program
        for (program_id, islands), vector in zip(taken.items(), vectors, strict=True):
            program = self.database.get(program_id)
            index.remember(program_id, vector)
            if self.log is not None:
                self.log.append(EmbeddingRow(program_id, "program", program.island), vector)
            for island in islands:
                if island not in members:
                    members[island] = self._members(island)
                if program_id in members[island]:
                    index.place(island, program_id)

    def _place(self, island: int, program_id: str) -> None:
        if self.index is None or not self.index.place(island, program_id):
            self._unplaced.setdefault(program_id, set()).add(island)

    def _resync(self, island: int) -> None:
        """Make the index's ``island`` hold the database's valid members of it."""
        members = self._members(island)
        if self.index is not None:
            self.index.ensure_islands(island + 1)
            for gone in self.index.members(island) - members:
                self.index.leave(island, gone)
        for program_id in members:
            self._place(island, program_id)
        for program_id, islands in list(self._unplaced.items()):
            if island in islands and program_id not in members:
                islands.discard(island)
                if not islands:
                    del self._unplaced[program_id]

    def _members(self, island: int) -> set[str]:
        summary = self.database.islands_summary()[island]
        return set(self.database.island_member_ids(island)[: summary.num_valid])

    def _remember(self, program: Program, verdict: Verdict) -> None:
        assert verdict.vector is not None
        self._index().remember(program.id, verdict.vector)
        if self.log is not None:
            nearest = verdict.nearest
            self.log.append(
                EmbeddingRow(
                    program.id,
                    "program",
                    program.island,
                    None if nearest is None else round(nearest.similarity, 6),
                    None if nearest is None else nearest.program_id,
                ),
                verdict.vector,
            )

    def _log_rejected(self, child: Program, verdict: Verdict) -> None:
        if self.log is None or verdict.vector is None or verdict.nearest is None:
            return
        nearest = verdict.nearest
        row = EmbeddingRow(
            child.id, "rejected", child.island, round(nearest.similarity, 6), nearest.program_id
        )
        self.log.append(row, verdict.vector)

    def _index(self) -> VectorIndex:
        if self.index is None:
            raise RuntimeError("no embedding yet: the index is sized by the first one")
        return self.index
