"""The run directory: the only code that touches a run's files.

Layout::

    RUN/
      run.json          settings of the run (written once, at creation)
      problem/          a copy of the problem folder, so a resume scores the same way
      programs/         program records (append-only Parquet segments)
      code/             program text keyed by content hash (each text once)
      evaluations/      one row per sandbox evaluation: peak memory, stage, wall time
      events/           migrations, rejected edits, resets, stops, ...
      llm_calls/        one row per LLM call: model, tokens, cost, latency
      checkpoint.json   database + controller state, and the manifest of committed files

Each table folder holds ``part-NNNNNN.parquet`` (one per commit that had rows
for it) and ``compact-AAAAAA-BBBBBB.parquet`` (parts AAAAAA..BBBBBB merged into
one file). Schemas and their versions: ``evolve.store_schema``.

Why segments plus a checkpoint: each commit writes new segment files (temp
file, fsync, rename, fsync of the folder) and then the checkpoint, atomically,
naming how many parts of each table are committed and which ranges are merged.
A crash between the two leaves files the checkpoint does not name; resume
(``open(repair=True)``, see ``evolve.store_repair``) deletes them, so the
programs on disk and the database state always agree and nothing is
duplicated. Files are written in ``RUN/.tmp/`` and renamed into their table
folder, so a folder holds only complete Parquet files, readable by pandas,
pyarrow, polars and DuckDB while the run is live.

Public reading API (stable; the notebook, report and export build on it):
``RunStore.open``, ``settings``, ``problem_dir``, ``load_checkpoint``,
``read_table(table, columns=None)`` (a ``pyarrow.Table``; any table of ``TABLES``),
``load_programs``, ``load_events``, ``get_program``, ``read_segment``.
Added with schema 2: ``refresh()`` (a reader opened on a live run re-reads the
manifest; ``read_table`` does so by itself when a merge removed a file it
knew) and ``append_evaluation``.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import time
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from evolve.records import Program
from evolve.store_lookup import ROW_GROUP, ProgramLookup
from evolve.store_repair import repair as repair_run_dir
from evolve.store_schema import (
    LLM_CALL_SCHEMA,
    PROGRAM_SCHEMA,
    SCHEMA_VERSION,
    SCHEMAS,
    TABLES,
    evaluation_row,
    program_row,
    row_program,
)

__all__ = ["PROGRAM_SCHEMA", "SCHEMAS", "SCHEMA_VERSION", "TABLES", "RunStore", "StoreError"]

log = logging.getLogger(__name__)

_program_row = program_row  # the name tests and older callers use

COMPACT_AT = 64  # loose segments of a table that trigger a merge into one file
READ_RETRIES = 3  # a reader racing a live run's merges re-reads the manifest


def number_of(path: Path) -> int:
    return int(path.stem.split("-")[1])


def range_of(path: Path) -> tuple[int, int]:
    _, first, last = path.stem.split("-")
    return int(first), int(last)


class StoreError(RuntimeError):
    """The run directory is missing, foreign or damaged."""


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` so that ``path`` holds either the old or the new bytes."""
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    _fsync_dir(path.parent)


TMP_DIR = ".tmp"  # under RUN/: files being written, never inside a table folder


def _write_parquet(table: pa.Table, path: Path, **options: Any) -> None:
    """A complete, fsynced file at ``path`` or nothing there. It is written in
    ``RUN/.tmp/`` and renamed into its table folder, so a folder only ever holds
    complete files: even readers that do not skip hidden files (polars reading
    a folder) never meet a half-written one."""
    tmp = path.parent.parent / TMP_DIR / f"{path.parent.name}.{path.name}"
    tmp.parent.mkdir(exist_ok=True)
    pq.write_table(table, tmp, **options)
    with open(tmp, "rb+") as f:
        os.fsync(f.fileno())
    os.replace(tmp, path)


class RunStore:
    """Append-only record of one run plus its atomic checkpoint."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self._pending: dict[str, list[dict[str, Any]]] = {t: [] for t in TABLES}
        self._segments: dict[str, int] = dict.fromkeys(TABLES, 0)
        # Committed segment ranges merged into one file each (see _compact).
        self._compacted: dict[str, list[tuple[int, int]]] = {t: [] for t in TABLES}
        self._known_code: set[str] | None = None
        self._lookup = ProgramLookup(self)
        # Opened without repair and never committed: a reader, which may refresh
        # its manifest from a live run's checkpoint.
        self._reader = False

    # -- creation and opening -------------------------------------------------

    @classmethod
    def create(cls, root: Path, settings: dict[str, Any], problem_root: Path) -> RunStore:
        """Make a new run directory; refuses to overwrite an existing run."""
        root = Path(root)
        if (root / "run.json").exists():
            raise StoreError(
                f"{root}: already holds a run; use `evolve resume {root}` or choose another --out"
            )
        root.mkdir(parents=True, exist_ok=True)
        for table in TABLES:
            (root / table).mkdir(exist_ok=True)
        shutil.copytree(
            problem_root,
            root / "problem",
            ignore=shutil.ignore_patterns("__pycache__", ".*"),
            dirs_exist_ok=True,
        )
        meta = {"schema_version": SCHEMA_VERSION, "created_at": time.time(), **settings}
        write_atomic(root / "run.json", json.dumps(meta, indent=2).encode())
        return cls(root)

    @classmethod
    def open(cls, root: Path, repair: bool = False) -> RunStore:
        """Open an existing run. Reads see only what the checkpoint committed.

        Without ``repair`` (inspection: ``evolve show``, notebooks) nothing is
        written, so a live run can be opened. With ``repair`` (resume only) the
        files a crash left are removed first (``evolve.store_repair``), and a
        run written by a newer schema is refused.
        """
        root = Path(root)
        if not (root / "run.json").is_file():
            raise StoreError(f"{root}: not a run directory (no run.json); check the path")
        store = cls(root)
        store._reader = not repair
        store.refresh()
        if repair:
            version = max(
                int(store.settings.get("schema_version", 1)),
                int((store.load_checkpoint() or {}).get("schema_version", 1)),
            )
            if version > SCHEMA_VERSION:
                raise StoreError(
                    f"{root}: written with run-store schema {version}, newer than this "
                    f"evolve's ({SCHEMA_VERSION}); upgrade evolve to resume it "
                    "(reading it works: unknown columns are left out)"
                )
            repair_run_dir(store)
        return store

    def refresh(self) -> None:
        """Re-read the checkpoint's manifest of committed files (a reader of a
        live run sees what was committed since; a writer never needs this)."""
        checkpoint = self.load_checkpoint() or {}
        committed = checkpoint.get("segments", {})
        compacted = checkpoint.get("compacted", {})
        for table in TABLES:
            self._segments[table] = int(committed.get(table, 0))
            self._compacted[table] = [(int(a), int(b)) for a, b in compacted.get(table, [])]
        self._lookup.reindex()

    @property
    def settings(self) -> dict[str, Any]:
        return json.loads((self.root / "run.json").read_text())

    @property
    def problem_dir(self) -> Path:
        return self.root / "problem"

    # -- manifest (also used by store_repair) ---------------------------------

    def tables_on_disk(self) -> list[str]:
        return [t for t in TABLES if (self.root / t).is_dir()]

    def committed_count(self, table: str) -> int:
        return self._segments[table]

    def compacted_ranges(self, table: str) -> list[tuple[int, int]]:
        return list(self._compacted[table])

    def covered(self, table: str, number: int) -> bool:
        return any(a <= number <= b for a, b in self._compacted[table])

    # -- writing --------------------------------------------------------------

    def append_program(self, program: Program) -> None:
        if self._known_code is None:
            self._known_code = set(self._read_column("code", "code_hash"))
        self._pending["programs"].append(program_row(program))
        self._lookup.pending(program)
        if program.code_hash not in self._known_code:
            self._known_code.add(program.code_hash)
            self._pending["code"].append({"code_hash": program.code_hash, "code": program.code})

    def append_evaluation(
        self, program: Program, peak_memory_mb: float | None, stage_reached: int | None
    ) -> None:
        """What the sandbox measured for one evaluation of ``program`` (already
        scored: its status and wall time are taken from it)."""
        self._pending["evaluations"].append(evaluation_row(program, peak_memory_mb, stage_reached))

    def append_event(self, kind: str, iteration: int, payload: dict[str, Any]) -> None:
        self._pending["events"].append(
            {
                "time": time.time(),
                "iteration": iteration,
                "kind": kind,
                "payload": json.dumps(payload),
            }
        )

    def append_llm_call(self, call: dict[str, Any]) -> None:
        """One LLM call record (fields of ``evolve.llm.records.LLMCall``)."""
        self._pending["llm_calls"].append({name: call.get(name) for name in LLM_CALL_SCHEMA.names})

    def commit(self, checkpoint: dict[str, Any]) -> None:
        """Write pending records as new segments, then the checkpoint naming them."""
        self._reader = False  # its own commits are now the truth: never refresh
        written: set[Path] = set()
        for table in TABLES:
            rows = self._pending[table]
            if not rows:
                continue
            n = self._segments[table] + 1
            path = self.root / table / f"part-{n:06d}.parquet"
            self._lookup.committed(table, path, rows)
            path.parent.mkdir(exist_ok=True)  # tables added by a later schema version
            _write_parquet(pa.Table.from_pylist(rows, schema=SCHEMAS[table]), path)
            self._segments[table] = n
            rows.clear()
            written.add(path.parent)
        merged = [t for t in TABLES if self._compact(t)]
        for directory in written | {self.root / t for t in merged}:
            _fsync_dir(directory)  # the renames above are durable before the checkpoint
        state = {
            "schema_version": SCHEMA_VERSION,
            "segments": dict(self._segments),
            "compacted": {t: [list(r) for r in self._compacted[t]] for t in TABLES},
            **checkpoint,
        }
        write_atomic(self.root / "checkpoint.json", json.dumps(state).encode())
        for table in merged:  # the checkpoint now names the merged file instead
            for path in (self.root / table).glob("part-*.parquet"):
                if self.covered(table, number_of(path)):
                    path.unlink()
            self._lookup.reindex()

    def _loose(self, table: str) -> list[Path]:
        return [p for p in self._segment_paths(table) if p.name.startswith("part-")]

    def _compact(self, table: str) -> bool:
        """Merge the loose committed segments of ``table`` into one file once there
        are ``COMPACT_AT`` of them, so file counts stay small. The merged file is
        named by the range it covers; it takes effect with the next checkpoint
        (a crash before that leaves it unnamed, and resume deletes it)."""
        merged_up_to = max((b for _, b in self._compacted[table]), default=0)
        if self._segments[table] - merged_up_to < COMPACT_AT:  # cheap: no directory scan
            return False
        loose = self._loose(table)
        first, last = number_of(loose[0]), number_of(loose[-1])
        merged = pa.concat_tables([pq.read_table(p, schema=SCHEMAS[table]) for p in loose])
        path = self.root / table / f"compact-{first:06d}-{last:06d}.parquet"
        _write_parquet(merged, path, row_group_size=ROW_GROUP)
        self._compacted[table].append((first, last))
        return True

    # -- reading --------------------------------------------------------------

    def load_checkpoint(self) -> dict[str, Any] | None:
        path = self.root / "checkpoint.json"
        if not path.is_file():
            return None
        try:
            return json.loads(path.read_text())
        except json.JSONDecodeError as exc:
            raise StoreError(
                f"{path}: unreadable checkpoint ({exc}); it is only ever replaced "
                "atomically, so the storage lost data: restore the run from a backup"
            ) from exc

    def _segment_paths(self, table: str) -> list[Path]:
        """The committed files of ``table`` in record order, named by the manifest
        (merged ranges, then the parts between and after them), never by listing
        the folder: a file that is not there raises, rather than reading less."""
        folder = self.root / table
        files: list[Path] = []
        next_part = 1
        for first, last in sorted(self._compacted[table]):
            files += [folder / f"part-{n:06d}.parquet" for n in range(next_part, first)]
            files.append(folder / f"compact-{first:06d}-{last:06d}.parquet")
            next_part = max(next_part, last + 1)
        last_part = self._segments[table]
        files += [folder / f"part-{n:06d}.parquet" for n in range(next_part, last_part + 1)]
        return files

    def _read_files(self, table: str, columns: list[str] | None = None) -> list[pa.Table]:
        """Every committed file of ``table``. A reader racing a live run's merge
        (it deletes the parts it merged) re-reads the manifest and tries again."""
        schema = SCHEMAS[table]
        if columns is not None:
            schema = pa.schema([schema.field(c) for c in columns])
        for attempt in range(READ_RETRIES + 1):
            try:
                return [
                    pq.read_table(p, schema=schema, columns=columns)
                    for p in self._segment_paths(table)
                ]
            except FileNotFoundError:
                if not self._reader or attempt == READ_RETRIES:
                    raise
                self.refresh()
        raise AssertionError("unreachable")

    def _read_column(self, table: str, column: str) -> list[Any]:
        return [v for part in self._read_files(table, [column]) for v in part.column(0).to_pylist()]

    def read_table(self, table: str, columns: list[str] | None = None) -> pa.Table:
        """All committed rows of ``table`` (readable while the run is live);
        ``columns`` reads only those (e.g. ``["id", "parent_ids"]`` for a lineage)."""
        parts = self._read_files(table, columns)
        if not parts:
            schema = SCHEMAS[table]
            return (
                schema if columns is None else pa.schema(map(schema.field, columns))
            ).empty_table()
        return pa.concat_tables(parts)

    def get_program(self, program_id: str) -> Program:
        """One program by id, recorded or still pending (random access for the
        database, which keeps only metadata in memory)."""
        try:
            return self._lookup.get(program_id)
        except (KeyError, FileNotFoundError):
            if not self._reader:
                raise
            self.refresh()  # committed since this reader opened, or merged away
            return self._lookup.get(program_id)

    def read_segment(self, table: str, path: Path) -> pa.Table:
        """One file of ``table`` (a loose part or a merged range)."""
        return pq.read_table(path, schema=SCHEMAS[table])

    def load_programs(self) -> dict[str, Program]:
        """Every committed program, in the order it was recorded (for analysis;
        a run itself reads programs one at a time with ``get_program``)."""
        codes = {row["code_hash"]: row["code"] for row in self.read_table("code").to_pylist()}
        return {
            row["id"]: row_program(row, codes[row["code_hash"]])
            for row in self.read_table("programs").to_pylist()
        }

    def load_events(self) -> list[dict[str, Any]]:
        rows = self.read_table("events").to_pylist()
        for row in rows:
            row["payload"] = json.loads(row["payload"])
        return rows
