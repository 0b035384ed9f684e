"""Random access to a run's programs by id, for the database during a run.

The database keeps only metadata in memory; when it needs a program's code it
asks the store, which answers from here: an index (id -> file, row; code hash
-> file, row) built lazily from the key columns, the programs not committed
yet, and small LRU caches of programs and files (selection returns the same
strong parents again and again). Every program read from disk has its text
hashed again against its ``code_hash`` (``evolve.store.integrity``): the
database breeds children from these texts, so a changed one must stop the run.
"""

from __future__ import annotations

from collections import OrderedDict
from pathlib import Path
from typing import Any

from evolve.records import Program
from evolve.store.integrity import check_code, damaged, decoding, open_parquet, read_parquet
from evolve.store.manifest import Manifest
from evolve.store.schema import row_program

__all__ = ["ROW_GROUP", "ProgramLookup"]

ROW_GROUP = 1024  # rows per Parquet row group in merged files (the unit of a lookup read)


class ProgramLookup:
    """id -> Program by random access into the Parquet segments.

    Keeps an index (id -> segment, row; code hash -> segment, row), the
    programs not yet committed, and small LRU caches of programs and segments:
    selection returns the same strong parents again and again.
    """

    PROGRAM_CACHE = 4096
    SEGMENT_CACHE = 256  # row groups (or loose parts) kept

    def __init__(self, root: Path, manifest: Manifest) -> None:
        self.root = root
        self.manifest = manifest
        self._index: dict[str, dict[str, tuple[Path, int]]] | None = None
        self._pending: dict[str, Program] = {}
        self._programs: OrderedDict[str, Program] = OrderedDict()
        self._segments: OrderedDict[tuple[Path, int], list[dict[str, Any]]] = OrderedDict()

    def pending(self, program: Program) -> None:
        self._pending[program.id] = program

    def reindex(self) -> None:
        """Files were merged: rebuild the index lazily (a few files now)."""
        self._index = None
        self._segments.clear()

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
        group, offset = divmod(row, ROW_GROUP)
        cached = self._segments.get((path, group))
        if cached is None:
            parquet = open_parquet(path)
            with decoding(path):
                if parquet.metadata.num_row_groups == 1:  # a loose part (or an old file)
                    rows = parquet.read_row_group(0).to_pylist()
                    cached = rows[group * ROW_GROUP : (group + 1) * ROW_GROUP]
                else:  # merged files hold exactly ROW_GROUP rows per group
                    cached = parquet.read_row_group(group).to_pylist()
            self._segments[(path, group)] = cached
            if len(self._segments) > self.SEGMENT_CACHE:
                self._segments.popitem(last=False)
        else:
            self._segments.move_to_end((path, group))
        return path, cached[offset]

    def get(self, program_id: str) -> Program:
        program = self._pending.get(program_id) or self._programs.get(program_id)
        if program is not None:
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

    def _remember(self, program: Program) -> None:
        self._programs[program.id] = program
        self._programs.move_to_end(program.id)
        if len(self._programs) > self.PROGRAM_CACHE:
            self._programs.popitem(last=False)
