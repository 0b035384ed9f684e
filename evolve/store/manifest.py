"""The manifest: which files of each table a checkpoint has committed.

A table's committed rows are parts ``1..count`` (``part-NNNNNN.parquet``), some
of whose ranges are merged into one ``compact-A-B`` file each. The manifest is
saved inside ``checkpoint.json``, so the files it names and the database state
always agree; readers never list a folder to learn what is committed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from evolve.store.files import compact_name, part_name

__all__ = ["Manifest"]


class Manifest:
    """Committed part counts and merged ranges, per table."""

    def __init__(self, tables: Iterable[str]) -> None:
        self.tables = tuple(tables)
        self._counts: dict[str, int] = dict.fromkeys(self.tables, 0)
        self._compacted: dict[str, list[tuple[int, int]]] = {t: [] for t in self.tables}

    def load(self, checkpoint: Mapping[str, Any]) -> None:
        """Take the manifest a checkpoint saved (an empty one: nothing committed)."""
        counts = checkpoint.get("segments", {})
        compacted = checkpoint.get("compacted", {})
        for table in self.tables:
            self._counts[table] = int(counts.get(table, 0))
            self._compacted[table] = [(int(a), int(b)) for a, b in compacted.get(table, [])]

    def to_checkpoint(self) -> dict[str, Any]:
        """The fields of ``checkpoint.json`` that hold the manifest."""
        return {
            "segments": dict(self._counts),
            "compacted": {t: [list(r) for r in self._compacted[t]] for t in self.tables},
        }

    def count(self, table: str) -> int:
        """Parts of ``table`` committed so far (merged ones included)."""
        return self._counts[table]

    def add_part(self, table: str) -> int:
        """Commit one more part of ``table``; returns its number."""
        self._counts[table] += 1
        return self._counts[table]

    def compacted_ranges(self, table: str) -> list[tuple[int, int]]:
        return list(self._compacted[table])

    def add_compacted(self, table: str, first: int, last: int) -> None:
        self._compacted[table].append((first, last))

    def merged_up_to(self, table: str) -> int:
        """The last part of ``table`` inside a merged file (0: none)."""
        return max((b for _, b in self._compacted[table]), default=0)

    def covered(self, table: str, number: int) -> bool:
        """Whether part ``number`` of ``table`` lives in a merged file."""
        return any(a <= number <= b for a, b in self._compacted[table])

    def paths(self, root: Path, table: str) -> list[Path]:
        """The committed files of ``table`` in record order (merged ranges, then the
        parts between and after them), named by the manifest, never by listing the
        folder: a file that is not there raises when read, rather than reading less."""
        return [path for path, _ in self.files(root, table)]

    def files(self, root: Path, table: str) -> list[tuple[Path, int]]:
        """``paths``, each with the last part it holds."""
        folder = root / table
        files: list[tuple[Path, int]] = []
        next_part = 1
        for first, last in sorted(self._compacted[table]):
            files += [(folder / part_name(n), n) for n in range(next_part, first)]
            files.append((folder / compact_name(first, last), last))
            next_part = max(next_part, last + 1)
        files += [(folder / part_name(n), n) for n in range(next_part, self._counts[table] + 1)]
        return files
