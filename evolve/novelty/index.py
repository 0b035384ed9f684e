"""Where the novelty check looks: the embeddings of the programs on each island
and of the children waiting for (or in) evaluation, as one matrix per group.

A query is one matrix-vector product over the group's rows (numpy, no Python
loop per program): at 10,000 programs of 256 dimensions that is about 2.6 M
multiply-adds, a fraction of a millisecond, so no approximate index is needed
at the sizes an island reaches. Rows are added at the end and removed by
moving the last row into the gap, so membership changes cost O(1).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

__all__ = ["Neighbour", "VectorIndex", "VectorRows"]


@dataclass(frozen=True)
class Neighbour:
    """The closest program found, and its cosine similarity to the query."""

    program_id: str
    similarity: float


class VectorRows:
    """A set of (id, unit vector) rows kept as one contiguous float32 matrix."""

    def __init__(self, dimensions: int) -> None:
        self.dimensions = dimensions
        self._matrix = np.zeros((16, dimensions), dtype=np.float32)
        self.ids: list[str] = []
        self._position: dict[str, int] = {}

    def __len__(self) -> int:
        return len(self.ids)

    def __contains__(self, program_id: object) -> bool:
        return program_id in self._position

    def add(self, program_id: str, vector: np.ndarray) -> None:
        if program_id in self._position:
            return
        n = len(self.ids)
        if n == len(self._matrix):
            grown = np.zeros((2 * n, self.dimensions), dtype=np.float32)
            grown[:n] = self._matrix
            self._matrix = grown
        self._matrix[n] = vector
        self.ids.append(program_id)
        self._position[program_id] = n

    def remove(self, program_id: str) -> None:
        at = self._position.pop(program_id, None)
        if at is None:
            return
        last = len(self.ids) - 1
        if at != last:
            moved = self.ids[last]
            self._matrix[at] = self._matrix[last]
            self.ids[at] = moved
            self._position[moved] = at
        self.ids.pop()

    def clear(self) -> None:
        self.ids.clear()
        self._position.clear()

    def nearest(self, vector: np.ndarray) -> Neighbour | None:
        n = len(self.ids)
        if not n:
            return None
        similarities = self._matrix[:n] @ vector
        best = int(np.argmax(similarities))
        return Neighbour(self.ids[best], float(similarities[best]))


class VectorIndex:
    """Every embedding known by program id, and which of them sit on each island
    (``place``/``leave``/``clear``) or wait in the queue (``hold``/``release``)."""

    def __init__(self, dimensions: int) -> None:
        self.dimensions = dimensions
        self.vectors: dict[str, np.ndarray] = {}
        self.islands: list[VectorRows] = []
        self.pending = VectorRows(dimensions)

    def remember(self, program_id: str, vector: np.ndarray) -> None:
        vector = np.asarray(vector, dtype=np.float32)
        if vector.shape != (self.dimensions,):
            raise ValueError(
                f"an embedding of shape {vector.shape} for {program_id}; this index holds "
                f"{self.dimensions} dimensions (the embedder changed within a run?)"
            )
        self.vectors[program_id] = vector

    def ensure_islands(self, count: int) -> None:
        while len(self.islands) < count:
            self.islands.append(VectorRows(self.dimensions))

    def place(self, island: int, program_id: str) -> bool:
        """Put a known program on ``island``; False when its vector is unknown."""
        vector = self.vectors.get(program_id)
        if vector is None:
            return False
        self.ensure_islands(island + 1)
        self.islands[island].add(program_id, vector)
        return True

    def leave(self, island: int, program_id: str) -> None:
        if island < len(self.islands):
            self.islands[island].remove(program_id)

    def members(self, island: int) -> set[str]:
        return set(self.islands[island].ids) if island < len(self.islands) else set()

    def hold(self, program_id: str, vector: np.ndarray) -> None:
        self.remember(program_id, vector)
        self.pending.add(program_id, self.vectors[program_id])

    def release(self, program_id: str) -> None:
        self.pending.remove(program_id)

    def nearest(
        self, vector: np.ndarray, islands: Iterable[int], queue: bool = True
    ) -> Neighbour | None:
        """The most similar program on ``islands`` (and, with ``queue``, among the
        children held), or None when there is none."""
        groups = [self.islands[i] for i in islands if i < len(self.islands)]
        if queue:
            groups.append(self.pending)
        found = [n for n in (g.nearest(vector) for g in groups) if n is not None]
        return max(found, key=lambda n: n.similarity, default=None)
