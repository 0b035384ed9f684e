"""The run directory: the only code that touches a run's files.

Layout (drawn in the README's "Run directory"): run.json, problem/ (the copy a
resume scores with), one Parquet folder per table of ``evolve.store.schema``,
database/ (``database_log``), checkpoint.json, and three files kept beside the
tables: index.sqlite (``program_index``), reviews.jsonl (``reviews``) and
.writer.lock (``writer_lock``).

Each table folder holds ``part-NNNNNN.parquet`` (one per commit that had rows
for it) and ``compact-AAAAAA-BBBBBB.parquet`` (parts AAAAAA..BBBBBB merged into
one file). Schemas and their versions: ``evolve.store.schema``.

Why segments plus a checkpoint: each commit writes new segment files (temp
file, fsync, rename, fsync of the folder) and then the checkpoint, atomically,
naming how many parts of each table are committed and which ranges are merged.
A crash between the two leaves files the checkpoint does not name; resume
(``open(repair=True)``, see ``evolve.store.repair``) deletes them, so the
programs on disk and the database state always agree and nothing is
duplicated. Files are written in ``RUN/.tmp/`` and renamed into their table
folder, so a folder holds only complete Parquet files, readable by pandas,
pyarrow, polars and DuckDB while the run is live.

The database state is not in checkpoint.json itself (O(programs), rewritten at
every commit): a commit appends its new journal entries to the delta log and
names its length, a full base only when the log outgrows a quarter of the
programs (``database_log``), so a commit costs what changed.

Public reading API (stable; the notebook, report and export build on it):
``RunStore.open``, ``settings``, ``problem_dir``, ``load_checkpoint``,
``read_table(table, columns=None)`` (a ``pyarrow.Table``; any table of ``TABLES``),
``load_programs``, ``load_events``, ``get_program``, ``read_segment``.
Since schema 2: ``refresh()`` (a live run's reader re-reads the manifest, as
``read_table`` does when a merge removed a file), ``append_evaluation``.
Since schema 4, ``load_checkpoint()``'s ``"database"`` is resolved from the
base and delta files (``database=False`` leaves the small reference), and
``commit(..., database=DatabaseCommit(...))`` writes it incrementally.

Every read verifies the Parquet page checksums, and every ``Program`` read back
(``get_program``, ``load_programs``) has its text hashed again against its
``code_hash`` (``evolve.store.integrity``): a damaged or edited run directory
raises ``StoreError`` naming the file, never reads as valid records.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import shutil
import time
from pathlib import Path
from typing import Any

import pyarrow as pa

from evolve.errors import StoreError
from evolve.records import Program
from evolve.store.chain import ChainReport, record_hash, verify_chain
from evolve.store.database_log import DatabaseCommit, DatabaseLog, Staged, is_reference
from evolve.store.files import (
    compact_name,
    fsync_dir,
    number_of,
    part_name,
    write_atomic,
    write_parquet,
)
from evolve.store.integrity import check_code, damaged, read_parquet
from evolve.store.json_files import CHECKPOINT_FIX, RUN_JSON_FIX, read_object
from evolve.store.lookup import ROW_GROUP, ProgramLookup
from evolve.store.manifest import Manifest
from evolve.store.objective import objective_of
from evolve.store.pins import pin_files
from evolve.store.program_index import ProgramIndex, record_parts
from evolve.store.repair import repair as repair_run_dir
from evolve.store.schema import (
    LLM_CALL_SCHEMA,
    SCHEMA_VERSION,
    SCHEMAS,
    TABLES,
    evaluation_row,
    program_row,
    row_program,
)
from evolve.store.writer_lock import lock_writer

__all__ = ["COMPACT_AT", "RunStore"]

log = logging.getLogger(__name__)

COMPACT_AT = 64  # loose segments of a table that trigger a merge into one file
RECENT_HASHES = 131_072  # record hashes kept in memory for children's chains (~20 MB)
READ_RETRIES = 3  # a reader racing a live run's merges re-reads the manifest


class RunStore:
    """Append-only record of one run plus its atomic checkpoint."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self._pending: dict[str, list[dict[str, Any]]] = {t: [] for t in TABLES}
        self.manifest = Manifest(TABLES)
        self._known_code: set[str] | None = None
        self._lookup = ProgramLookup(self.root, self.manifest)
        self._index: ProgramIndex | None = None  # the writer's; see program_index
        self._chain_head = ""  # the last record's hash (evolve.store.chain)
        self._recent_hashes: dict[str, str] = {}  # id -> record hash, the last RECENT_HASHES
        self._lock_fd: int | None = None  # held while this process writes the run
        self._database = DatabaseLog(self.root)
        # opened without repair, never committed: a reader, which may refresh its manifest
        self._reader = False

    # -- creation and opening -------------------------------------------------

    @classmethod
    def create(cls, root: Path, settings: dict[str, Any], problem_root: Path) -> RunStore:
        """Make a new run directory; refuses to overwrite an existing run.

        ``settings`` go to run.json. Their ``"objective"`` (``{"metric": ...,
        "direction": "maximize" | "minimize"}``, as the engine loaded it) is what
        every reader of the run takes the direction from; without one, it is read
        from ``problem_root``'s problem.toml now, once, and recorded.
        """
        objective = settings.get("objective") or objective_of(problem_root)
        if objective.get("direction") not in ("maximize", "minimize"):
            raise ValueError(f"the objective's direction must be maximize or minimize: {objective}")
        settings = {**settings, "objective": objective}
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
        meta = {
            "schema_version": SCHEMA_VERSION,
            "created_at": time.time(),
            **settings,
            # what every resume compares the problem copy with (evolve.store.pins)
            "problem_files": pin_files(root / "problem"),
        }
        write_atomic(root / "run.json", json.dumps(meta, indent=2).encode())
        store = cls(root)
        store._lock_fd = lock_writer(store.root)
        store._open_index()
        return store

    @classmethod
    def open(cls, root: Path, repair: bool = False) -> RunStore:
        """Open an existing run. Reads see only what the checkpoint committed.

        Without ``repair`` (inspection: ``evolve show``, notebooks) nothing is
        written, so a live run can be opened. With ``repair`` (resume only) the
        files a crash left are removed first (``evolve.store.repair``), and a
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
                int((store.load_checkpoint(database=False) or {}).get("schema_version", 1)),
            )
            if version > SCHEMA_VERSION:
                raise StoreError(
                    f"{root}: written with run-store schema {version}, newer than this "
                    f"evolve's ({SCHEMA_VERSION}); upgrade evolve to resume it "
                    "(reading it works: unknown columns are left out)"
                )
            store._lock_fd = lock_writer(
                store.root
            )  # before repair: it deletes what a live writer wrote
            repair_run_dir(store.root, store.manifest, store._database)
            store._open_index()
        return store

    def _open_index(self) -> None:
        """The writer's program index, in step with the checkpoint (built or
        caught up from Parquet when it is not)."""
        checkpoint = self.load_checkpoint(database=False) or {}
        identity = str(self.settings.get("created_at"))
        token = checkpoint.get("program_index")
        self._index = ProgramIndex.open(
            self.root, self.manifest, identity, token if isinstance(token, str) else None
        )
        self._lookup.attach(self._index)

    def close(self) -> None:
        """Close the program index's file and give up the writer's lock."""
        if self._lock_fd is not None:
            os.close(self._lock_fd)  # releases this process's lock on the file
            self._lock_fd = None
        if self._index is not None:
            self._index.close()
            self._index = None
            self._lookup.attach(None)

    def refresh(self) -> None:
        """Re-read the manifest of committed files (a live run's reader only)."""
        checkpoint = self.load_checkpoint(database=False) or {}
        self.manifest.load(checkpoint)
        self._chain_head = str(checkpoint.get("chain_head") or "")
        self._database.load(checkpoint.get("database"))
        self._lookup.reindex()

    @property
    def settings(self) -> dict[str, Any]:
        """run.json. A key it lacks raises ``StoreError`` naming the file, the key
        and the fix (``evolve.store.json_files``); ``.get`` reads optional ones."""
        return read_object(self.root / "run.json", RUN_JSON_FIX)

    @property
    def problem_dir(self) -> Path:
        return self.root / "problem"

    @property
    def maximize(self) -> bool:
        """Whether the run's objective is maximised, as run.json records it
        (``"objective": {"metric", "direction"}``, written once at creation).
        Runs made before run.json carried it read the [objective] table of
        their problem copy, which is where the direction was then taken from."""
        objective = self.settings.get("objective") or objective_of(self.problem_dir)
        direction = objective["direction"]
        if direction not in ("maximize", "minimize"):
            raise StoreError(
                f"{self.root / 'run.json'}: objective.direction is {direction!r}, not "
                f"'maximize' or 'minimize'; {RUN_JSON_FIX}"
            )
        return bool(direction == "maximize")

    # -- writing --------------------------------------------------------------

    def append_program(self, program: Program) -> None:
        """Record ``program``, chained to the record before it and to its
        parents' records (``evolve.store.chain``)."""
        if self._known_code is None:
            self._known_code = set(self._read_column("code", "code_hash"))
        row = program_row(program)
        parents = [self._record_hash_of(pid) for pid in program.parent_ids]
        row["record_hash"] = self._chain_head = record_hash(row, self._chain_head, parents)
        recent = self._recent_hashes
        recent[program.id] = row["record_hash"]
        if len(recent) > RECENT_HASHES:
            del recent[next(iter(recent))]  # the oldest (dicts keep insertion order)
        self._pending["programs"].append(row)
        self._lookup.pending(dataclasses.replace(program, record_hash=row["record_hash"]))
        if program.code_hash not in self._known_code:
            self._known_code.add(program.code_hash)
            self._pending["code"].append({"code_hash": program.code_hash, "code": program.code})

    def _record_hash_of(self, program_id: str) -> str:
        """A parent's record hash ("" for one recorded before hashes, or not in
        this run: ``verify_chain`` treats both the same). Recent ones from
        memory: a parent is read back from the store only when it is older
        than the last ``RECENT_HASHES`` records (a read costs ~25 us)."""
        known = self._recent_hashes.get(program_id)
        if known is not None:
            return known
        try:
            return self._lookup.get(program_id).record_hash or ""
        except KeyError:
            return ""

    def append_evaluation(
        self,
        program: Program,
        peak_memory_mb: float | None,
        stage_reached: int | None,
        probes: dict[str, Any] | None = None,
    ) -> None:
        """What the sandbox measured for one evaluation of (scored) ``program``,
        and what the candidate tried that it refused (``probes``; None: unseen)."""
        row = evaluation_row(program, peak_memory_mb, stage_reached, probes)
        self._pending["evaluations"].append(row)

    def append_event(self, kind: str, iteration: int, payload: dict[str, Any]) -> None:
        self._pending["events"].append(
            {
                "time": time.time(),
                "iteration": iteration,
                "kind": str(kind),
                "payload": json.dumps(payload),
            }
        )

    def append_llm_call(self, call: dict[str, Any]) -> None:
        """One LLM call record (fields of ``evolve.mutation.llm.calls.LLMCall``)."""
        self._pending["llm_calls"].append({name: call.get(name) for name in LLM_CALL_SCHEMA.names})

    def commit(self, checkpoint: dict[str, Any], database: DatabaseCommit | None = None) -> None:
        """Write pending records as new segments, then the checkpoint naming them.

        ``database``: the database's changes since the previous commit; they are
        appended to its delta log (or, now and then, a new base is written) and
        the checkpoint's ``"database"`` names them. Without it the checkpoint
        keeps naming what it named (or holds the ``"database"`` given inline).
        """
        if database is not None and "database" in checkpoint:
            raise ValueError("give the database state inline or as a DatabaseCommit, not both")
        self._reader = False  # its own commits are now the truth: never refresh
        written: set[Path] = set()
        new_parts: dict[str, tuple[int, list[dict[str, Any]]]] = {}
        for table in TABLES:
            rows = self._pending[table]
            if not rows:
                continue
            path = self.root / table / part_name(self.manifest.count(table) + 1)
            self._lookup.committed(table, path, rows)
            path.parent.mkdir(exist_ok=True)  # tables added by a later schema version
            write_parquet(pa.Table.from_pylist(rows, schema=SCHEMAS[table]), path)
            new_parts[table] = (self.manifest.add_part(table), list(rows))
            rows.clear()
            written.add(path.parent)
        index_token = record_parts(self._index, new_parts)
        merged = [t for t in TABLES if self._compact(t)]
        for directory in written | {self.root / t for t in merged}:
            fsync_dir(directory)  # the renames above are durable before the checkpoint
        state = {
            "schema_version": SCHEMA_VERSION,
            **self.manifest.to_checkpoint(),
            **checkpoint,
            "chain_head": self._chain_head,
        }
        if index_token is not None:
            state["program_index"] = index_token
        staged: Staged | None = None
        if database is not None:
            staged = self._database.stage(database)  # durable before the checkpoint names it
            state["database"] = staged.reference
        elif "database" not in checkpoint and self._database.reference is not None:
            state["database"] = self._database.reference
        write_atomic(self.root / "checkpoint.json", json.dumps(state).encode())
        if staged is not None:
            self._database.committed(staged)  # deletes a replaced base and log
        elif "database" in checkpoint:
            self._database.dropped()
        for table in merged:  # the checkpoint now names the merged file instead
            for path in (self.root / table).glob("part-*.parquet"):
                if self.manifest.covered(table, number_of(path)):
                    path.unlink()
            self._lookup.reindex()

    def _loose(self, table: str) -> list[Path]:
        return [p for p in self.manifest.paths(self.root, table) if p.name.startswith("part-")]

    def _compact(self, table: str) -> bool:
        """Merge the loose committed segments of ``table`` into one file once there
        are ``COMPACT_AT`` of them, so file counts stay small. The merged file is
        named by the range it covers; it takes effect with the next checkpoint
        (a crash before that leaves it unnamed, and resume deletes it)."""
        if self.manifest.count(table) - self.manifest.merged_up_to(table) < COMPACT_AT:
            return False
        loose = self._loose(table)
        first, last = number_of(loose[0]), number_of(loose[-1])
        # Verified as they are read: a damaged part must not be rewritten with
        # fresh checksums, which would make the damage undetectable.
        merged = pa.concat_tables([read_parquet(p, schema=SCHEMAS[table]) for p in loose])
        path = self.root / table / compact_name(first, last)
        write_parquet(merged, path, row_group_size=ROW_GROUP)
        self.manifest.add_compacted(table, first, last)
        return True

    # -- reading --------------------------------------------------------------

    def load_checkpoint(self, database: bool = True) -> dict[str, Any] | None:
        """checkpoint.json, or None before the first commit.

        Its ``"database"`` is a state ``PopulationDatabase.restore`` takes: with
        ``database`` (the default) one naming the base and delta files is
        resolved into the base, the committed entries to replay on it and the
        final position (reading O(programs)); ``database=False`` leaves the
        small reference (for readers that want the counters only).
        """
        for attempt in range(READ_RETRIES + 1):
            checkpoint = self._read_checkpoint()
            if checkpoint is None or not database or not is_reference(checkpoint.get("database")):
                return checkpoint
            try:
                checkpoint["database"] = self._database.read(checkpoint["database"])
                return checkpoint
            except FileNotFoundError as exc:
                # A live run wrote a new base and deleted this one: read its
                # newer checkpoint. The writer itself never meets this.
                if attempt == READ_RETRIES:
                    raise StoreError(
                        f"{exc.filename}: the database file checkpoint.json names is missing; "
                        f"{CHECKPOINT_FIX}"
                    ) from exc
        raise AssertionError("unreachable")

    def _read_checkpoint(self) -> dict[str, Any] | None:
        path = self.root / "checkpoint.json"
        if not path.is_file():
            return None
        # Top level only: a missing "database" or "controller" names the file;
        # the database state inside is checked by the database's own restore.
        return read_object(path, CHECKPOINT_FIX, nested=False)

    def _read_files(
        self, table: str, columns: list[str] | None = None
    ) -> list[tuple[Path, pa.Table]]:
        """Every committed file of ``table`` and its rows, page checksums verified.
        A reader racing a live run's merge (it deletes the parts it merged)
        re-reads the manifest and tries again."""
        schema = SCHEMAS[table]
        if columns is not None:
            schema = pa.schema([schema.field(c) for c in columns])
        for attempt in range(READ_RETRIES + 1):
            try:
                return [
                    (p, read_parquet(p, schema=schema, columns=columns))
                    for p in self.manifest.paths(self.root, table)
                ]
            except FileNotFoundError as exc:
                if not self._reader or attempt == READ_RETRIES:
                    # named by the checkpoint, so it was committed: storage lost
                    # it, or someone deleted it
                    missing = Path(exc.filename or exc.args[-1])
                    raise damaged(missing, "missing, though checkpoint.json names it") from exc
                self.refresh()
        raise AssertionError("unreachable")

    def _read_column(self, table: str, column: str) -> list[Any]:
        return [
            v for _, part in self._read_files(table, [column]) for v in part.column(0).to_pylist()
        ]

    def read_table(self, table: str, columns: list[str] | None = None) -> pa.Table:
        """All committed rows of ``table`` (readable while the run is live);
        ``columns`` reads only those (e.g. ``["id", "parent_ids"]`` for a lineage)."""
        parts = [part for _, part in self._read_files(table, columns)]
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

    def check_chain(self) -> ChainReport:
        """Recompute the record hash chain over every committed program, in
        record order, against checkpoint.json's ``chain_head``."""
        checkpoint = self.load_checkpoint(database=False) or {}
        head = checkpoint.get("chain_head")
        rows = self.read_table("programs").to_pylist()
        return verify_chain(rows, head if isinstance(head, str) and head else None)

    def read_segment(self, table: str, path: Path) -> pa.Table:
        """One file of ``table`` (a loose part or a merged range)."""
        return read_parquet(path, schema=SCHEMAS[table])

    def load_programs(self) -> dict[str, Program]:
        """Every committed program, in the order it was recorded (for analysis;
        a run itself reads programs one at a time with ``get_program``)."""
        codes: dict[str, tuple[Path, str]] = {}
        for path, part in self._read_files("code"):
            codes.update((row["code_hash"], (path, row["code"])) for row in part.to_pylist())
        programs: dict[str, Program] = {}
        verified: set[str] = set()  # each text once, however many programs share it
        for path, part in self._read_files("programs"):
            for row in part.to_pylist():
                key = row["code_hash"]
                if key not in codes:
                    raise damaged(
                        path, f"program {row['id']} names code {key} the code table lacks"
                    )
                code_path, code = codes[key]
                if key not in verified:
                    check_code(code_path, key, code, row["id"])
                    verified.add(key)
                programs[row["id"]] = row_program(row, code)
        return programs

    def load_events(self) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = self.read_table("events").to_pylist()
        for row in rows:
            row["payload"] = json.loads(row["payload"])
        return rows
