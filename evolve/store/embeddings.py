"""The embeddings of a run's programs, for the novelty check to resume from and
for a notebook to map (``evolve.Run.embeddings``).

Kept apart from the Parquet tables, under ``RUN/embeddings/``: ``vectors.f32``
(rows of little-endian float32, appended) and ``rows.jsonl`` (one JSON object
per row: the program id, whether it was evaluated or rejected before
evaluation, its island, and the similarity and nearest program its check
found), plus ``meta.json`` (the embedder and the dimensions). Vectors are
written before their rows, so after a crash a row never points past the
vectors; opening the log for appending cuts a torn last row and vectors
without a row. A lost tail costs nothing but recomputation: the novelty check
embeds again whatever program it finds without a vector.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from evolve.errors import StoreError

__all__ = ["EMBEDDINGS_DIR", "EmbeddingLog", "EmbeddingRow", "StoredEmbeddings"]

EMBEDDINGS_DIR = "embeddings"
_VECTORS, _ROWS, _META = "vectors.f32", "rows.jsonl", "meta.json"


@dataclass(frozen=True)
class EmbeddingRow:
    """What one stored vector belongs to."""

    program_id: str
    kind: str  # "program" (it was evaluated) or "rejected" (not novel enough)
    island: int
    similarity: float | None = None  # to its nearest program when it was checked
    nearest_id: str | None = None


@dataclass(frozen=True)
class StoredEmbeddings:
    """A run's embeddings as read back: ``rows[i]`` describes ``vectors[i]``."""

    embedder: str
    dimensions: int
    rows: list[EmbeddingRow]
    vectors: np.ndarray


class EmbeddingLog:
    """Appends a run's embeddings (one writer: the run) and reads them back."""

    def __init__(self, run_dir: Path) -> None:
        self.dir = Path(run_dir) / EMBEDDINGS_DIR
        self._buffer: list[tuple[EmbeddingRow, np.ndarray]] = []
        self._opened = False

    def exists(self) -> bool:
        return (self.dir / _META).is_file()

    def append(self, row: EmbeddingRow, vector: np.ndarray) -> None:
        """Buffer one row; written by the next ``flush`` (the run's commit)."""
        self._buffer.append((row, np.asarray(vector, dtype="<f4")))

    def flush(self, embedder: str, dimensions: int) -> None:
        """Write the buffered rows (vectors first, then their rows, each fsynced)."""
        if not self._buffer:
            return
        if not self._opened:
            self._open(embedder, dimensions)
        vectors = np.stack([vector for _, vector in self._buffer]).astype("<f4")
        if vectors.shape[1] != dimensions:
            raise StoreError(
                f"{self.dir}: embeddings of {vectors.shape[1]} dimensions, but the log holds "
                f"{dimensions}"
            )
        lines = "".join(json.dumps(row.__dict__) + "\n" for row, _ in self._buffer)
        _append(self.dir / _VECTORS, vectors.tobytes())
        _append(self.dir / _ROWS, lines.encode("utf-8"))
        self._buffer.clear()

    def read(self) -> StoredEmbeddings | None:
        """Everything written so far (None when the run kept no embeddings)."""
        if not self.exists():
            return None
        meta = self._meta()
        dimensions = int(meta["dimensions"])
        rows = _read_rows(self.dir / _ROWS)
        raw = (self.dir / _VECTORS).read_bytes() if (self.dir / _VECTORS).exists() else b""
        count = min(len(rows), len(raw) // (4 * dimensions))
        vectors = np.frombuffer(raw[: count * 4 * dimensions], dtype="<f4").reshape(
            count, dimensions
        )
        return StoredEmbeddings(str(meta["embedder"]), dimensions, rows[:count], vectors.copy())

    # -- internals ----------------------------------------------------------------

    def _meta(self) -> dict[str, Any]:
        path = self.dir / _META
        try:
            meta = json.loads(path.read_text(encoding="utf-8"))
            int(meta["dimensions"])
            str(meta["embedder"])
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise StoreError(
                f"{path}: unreadable ({exc}); delete {self.dir} to rebuild it"
            ) from exc
        return dict(meta)

    def _open(self, embedder: str, dimensions: int) -> None:
        """Create the log, or make an existing one end cleanly before appending."""
        self.dir.mkdir(parents=True, exist_ok=True)
        if self.exists():
            meta = self._meta()
            if (meta["embedder"], int(meta["dimensions"])) != (embedder, dimensions):
                raise StoreError(
                    f"{self.dir}: holds {meta['embedder']} embeddings of {meta['dimensions']} "
                    f"dimensions, not {embedder} of {dimensions}; a run keeps one embedder "
                    f"(move {self.dir} away to start its embeddings over)"
                )
            self._truncate_torn(dimensions)
        else:
            tmp = self.dir / (_META + ".tmp")
            tmp.write_text(json.dumps({"embedder": embedder, "dimensions": dimensions}))
            os.replace(tmp, self.dir / _META)
        self._opened = True

    def _truncate_torn(self, dimensions: int) -> None:
        """Keep the rows that have a vector and the vectors that have a row."""
        rows_path, vectors_path = self.dir / _ROWS, self.dir / _VECTORS
        rows = _read_rows(rows_path)
        size = vectors_path.stat().st_size if vectors_path.exists() else 0
        count = min(len(rows), size // (4 * dimensions))
        tmp = rows_path.with_suffix(".tmp")
        tmp.write_text("".join(json.dumps(row.__dict__) + "\n" for row in rows[:count]))
        os.replace(tmp, rows_path)
        with open(vectors_path, "ab") as handle:
            handle.truncate(count * 4 * dimensions)


def _append(path: Path, data: bytes) -> None:
    with open(path, "ab") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())


def _read_rows(path: Path) -> list[EmbeddingRow]:
    """The complete, readable rows (a torn last line is left out)."""
    if not path.exists():
        return []
    rows = []
    for line in path.read_bytes().split(b"\n"):
        if not line.strip():
            continue
        try:
            rows.append(EmbeddingRow(**json.loads(line)))
        except (ValueError, TypeError):
            break  # a torn or garbled line ends what can be trusted
    return rows
