"""Random access to a run's programs by id, for the database during a run.

The database keeps only metadata in memory; when it needs a program's code it
asks the store, which answers from here: the programs not committed yet, an
LRU cache of programs (selection returns the same strong parents again and
again), then, in the process that writes the run, the SQLite program index
(``evolve.store.program_index``: flat cost at any size), and otherwise the
Parquet files through an index (id -> file, row; code hash -> file, row) built
lazily from the key columns, with caches of row groups and open files. Every
program read from disk has its text hashed again against its ``code_hash``
(``evolve.store.integrity``): the database breeds children from these texts,
so a changed one must stop the run (from the index, which is only a copy, it
turns the index off and Parquet answers).
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from evolve.records import Program, code_hash
from evolve.store.integrity import check_code, damaged, decoding, open_parquet, read_parquet
from evolve.store.manifest import Manifest
from evolve.store.program_index import IndexUnusable, ProgramIndex
from evolve.store.schema import row_program

__all__ = ["ROW_GROUP", "ProgramLookup"]

log = logging.getLogger("evolve.store")

# Rows per Parquet row group in merged files: the unit of a lookup read. Small,
# because a program not in the caches costs one row group's decoding: at 1M
# programs most inspirations are such misses (1,024 rows took ~2 ms to decode,
# 128 rows a fraction of it). Files merged with another size (older runs) are
# read with theirs, from their metadata.
ROW_GROUP = 128
CACHED_ROWS = 262_144  # rows kept decoded, whatever the row-group size


class _Group:
    """A cached row group: its Arrow table, and its rows once converted."""

    __slots__ = ("rows", "table")

    def __init__(self, table: pa.Table) -> None:
        self.table = table
        self.rows: list[dict[str, Any]] | None = None


class ProgramLookup:
    """id -> Program by random access into the Parquet segments.

    Keeps an index (id -> segment, row; code hash -> segment, row), the
    programs not yet committed, and small LRU caches of programs and segments:
    selection returns the same strong parents again and again.
    """

    PROGRAM_CACHE = 4096
    SEGMENT_CACHE = CACHED_ROWS // ROW_GROUP  # row groups (or loose parts) kept decoded
    # Open Parquet files (their footers parsed once; one descriptor each): at
    # 1M programs a table has ~60 merged files, so both tables' stay open.
    FILE_CACHE = 256

    def __init__(self, root: Path, manifest: Manifest) -> None:
        self.root = root
        self.manifest = manifest
        self._index: dict[str, dict[str, tuple[Path, int]]] | None = None
        self._pending: dict[str, Program] = {}
        self._programs: OrderedDict[str, Program] = OrderedDict()
        # (file, row group) -> its rows: decoded to Arrow when read (a group read
        # for one program converts that row only), and converted whole on its
        # second use (a group used again is likely used often)
        self._segments: OrderedDict[tuple[Path, int], _Group] = OrderedDict()
        self._files: OrderedDict[Path, tuple[pq.ParquetFile, int]] = OrderedDict()
        self._program_index: ProgramIndex | None = None

    def attach(self, index: ProgramIndex | None) -> None:
        """Answer committed programs from ``index`` (None: from Parquet only)."""
        self._program_index = index

    def pending(self, program: Program) -> None:
        self._pending[program.id] = program

    def reindex(self) -> None:
        """Files were merged: rebuild the index lazily (a few files now)."""
        self._index = None
        self._segments.clear()
        self._files.clear()

    def committed(self, table: str, path: Path, rows: list[dict[str, Any]]) -> None:
        """Rows of ``table`` are now the file ``path`` (called before it is written,
        on the event-loop thread, so no reader sees a gap)."""
        if table not in ("programs", "code"):
            return
        key = "id" if table == "programs" else "code_hash"
        for i, row in enumerate(rows):
            if self._index is not None:
                self._index[table][row[key]] = (path, i)
        if table == "programs":
            for row in rows:
                program = self._pending.pop(row["id"], None)
                if program is not None:  # recently added: likely to be sampled soon
                    self._remember(program)

    def _build_index(self) -> dict[str, dict[str, tuple[Path, int]]]:
        index: dict[str, dict[str, tuple[Path, int]]] = {"programs": {}, "code": {}}
        for table, key in (("programs", "id"), ("code", "code_hash")):
            for path in self.manifest.paths(self.root, table):
                keys = read_parquet(path, columns=[key]).column(key).to_pylist()
                index[table].update((k, (path, i)) for i, k in enumerate(keys))
        return index

    def _row(self, table: str, key: str) -> tuple[Path, dict[str, Any]]:
        """The file holding ``key`` in ``table``, and its row (KeyError: none)."""
        if self._index is None:
            self._index = self._build_index()
        path, row = self._index[table][key]
        parquet, group_rows = self._file(path)
        group, offset = divmod(row, group_rows)
        cached = self._segments.get((path, group))
        if cached is None:
            with decoding(path):
                # One thread: for one small group, a pool's hand-off costs more
                # than the read (0.16 against 0.39 ms for 128 rows).
                cached = _Group(parquet.read_row_group(group, use_threads=False))
            self._segments[(path, group)] = cached
            if len(self._segments) > self.SEGMENT_CACHE:
                self._segments.popitem(last=False)
            with decoding(path):
                return path, cached.table.slice(offset, 1).to_pylist()[0]
        self._segments.move_to_end((path, group))
        if cached.rows is None:
            with decoding(path):
                cached.rows = cached.table.to_pylist()
        return path, cached.rows[offset]

    def _file(self, path: Path) -> tuple[pq.ParquetFile, int]:
        """The open file and its rows per row group (a loose part has one group;
        merged files hold the same number in each but the last)."""
        known = self._files.get(path)
        if known is not None:
            self._files.move_to_end(path)
            return known
        parquet = open_parquet(path)
        metadata = parquet.metadata
        group_rows = metadata.row_group(0).num_rows if metadata.num_row_groups else 1
        known = (parquet, max(group_rows, 1))
        self._files[path] = known
        if len(self._files) > self.FILE_CACHE:
            self._files.popitem(last=False)
        return known

    def get(self, program_id: str) -> Program:
        program = self._pending.get(program_id) or self._programs.get(program_id)
        if program is not None:
            return program
        if self._program_index is not None and self._program_index.usable:
            program = self._from_index(self._program_index, program_id)
            if program is not None:
                self._remember(program)
                return program
        try:
            path, row = self._row("programs", program_id)
        except KeyError:
            raise KeyError(f"program {program_id} is not in the run store {self.root}") from None
        # The code rows of a program are committed with it (same checkpoint), so
        # a hash the code table lacks is damage, not a race with a live run.
        try:
            code_path, code_row = self._row("code", row["code_hash"])
        except KeyError:
            raise damaged(
                path, f"program {program_id} names code {row['code_hash']} the code table lacks"
            ) from None
        code = check_code(code_path, row["code_hash"], code_row["code"], program_id)
        program = row_program(row, code)
        self._remember(program)
        return program

    def _from_index(self, index: ProgramIndex, program_id: str) -> Program | None:
        """The program from the SQLite index; None if it does not hold it or
        cannot be trusted (then it is turned off and Parquet, the record, answers)."""
        try:
            found = index.get(program_id)
            if found is None:
                return None
            row, code = found
            if code_hash(code) != row["code_hash"]:
                raise IndexUnusable(f"{index.path}: the text of {program_id} is not its code_hash")
            return row_program(row, code)
        except (IndexUnusable, KeyError, TypeError, ValueError) as exc:
            log.warning(
                "%s; reading programs from the Parquet tables from now on (the index is "
                "deleted, and rebuilt at the next resume)",
                exc,
            )
            index.disable()
            return None

    def _remember(self, program: Program) -> None:
        self._programs[program.id] = program
        self._programs.move_to_end(program.id)
        if len(self._programs) > self.PROGRAM_CACHE:
            self._programs.popitem(last=False)
