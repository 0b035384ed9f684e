"""The run directory: the only code that touches a run's files.

Layout::

    RUN/
      run.json          settings of the run (written once, at creation)
      problem/          a copy of the problem folder, so a resume scores the same way
      programs/part-NNNNNN.parquet   program records (append-only segments)
      code/part-NNNNNN.parquet       program text keyed by content hash
      events/part-NNNNNN.parquet     migrations, rejected edits, stops, ...
      llm_calls/part-NNNNNN.parquet  one row per LLM call: model, tokens, cost, latency
      checkpoint.json   database + controller state and the committed segment counts

Why segments plus a checkpoint: each flush writes new segment files (temp file,
fsync, rename) and then the checkpoint, atomically, naming how many segments of
each table are committed. A crash between the two leaves segments the checkpoint
does not know; opening the run deletes them, so the programs on disk and the
database state always agree and nothing is duplicated on resume.
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

from evolve.records import Program, Status
from evolve.store_lookup import ROW_GROUP, ProgramLookup

__all__ = ["RunStore", "StoreError"]

log = logging.getLogger(__name__)

SCHEMA_VERSION = 1
TABLES = ("programs", "code", "events", "llm_calls")

PROGRAM_SCHEMA = pa.schema(
    [
        ("id", pa.string()),
        ("parent_ids", pa.list_(pa.string())),
        ("island", pa.int32()),
        ("generation", pa.int32()),
        ("iteration", pa.int64()),
        ("created_at", pa.float64()),
        ("status", pa.string()),
        ("score", pa.float64()),
        ("fitness", pa.float64()),
        ("metrics", pa.string()),  # JSON object name -> float
        ("artifacts", pa.string()),  # JSON object name -> str
        ("reason", pa.string()),
        ("edit_kind", pa.string()),
        ("model", pa.string()),
        ("llm_call_id", pa.string()),
        ("wall_time_s", pa.float64()),
        ("duplicate_of", pa.string()),
        ("code_hash", pa.string()),
    ]
)
CODE_SCHEMA = pa.schema([("code_hash", pa.string()), ("code", pa.string())])
EVENT_SCHEMA = pa.schema(
    [
        ("time", pa.float64()),
        ("iteration", pa.int64()),
        ("kind", pa.string()),
        ("payload", pa.string()),  # JSON object
    ]
)
LLM_CALL_SCHEMA = pa.schema(
    [
        ("id", pa.string()),
        ("model", pa.string()),
        ("prompt_tokens", pa.int64()),
        ("completion_tokens", pa.int64()),
        ("cost_usd", pa.float64()),
        ("latency_s", pa.float64()),
        ("retries", pa.int32()),
        ("error", pa.string()),
        ("prompt_hash", pa.string()),
        ("edit_kind", pa.string()),
        ("created_at", pa.float64()),
        ("usage_estimated", pa.bool_()),
        ("finish_reason", pa.string()),
        ("replayed", pa.bool_()),
    ]
)
SCHEMAS = {
    "programs": PROGRAM_SCHEMA,
    "code": CODE_SCHEMA,
    "events": EVENT_SCHEMA,
    "llm_calls": LLM_CALL_SCHEMA,
}


COMPACT_AT = 64  # loose segments of a table that trigger a merge into one file


def _number_of(path: Path) -> int:
    return int(path.stem.split("-")[1])


def _range_of(path: Path) -> tuple[int, int]:
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


def _program_row(p: Program) -> dict[str, Any]:
    return {
        "id": p.id,
        "parent_ids": list(p.parent_ids),
        "island": p.island,
        "generation": p.generation,
        "iteration": p.iteration,
        "created_at": p.created_at,
        "status": str(p.status),
        "score": p.score,
        "fitness": p.fitness,
        "metrics": json.dumps(p.metrics),
        "artifacts": json.dumps(p.artifacts),
        "reason": p.reason,
        "edit_kind": p.edit_kind,
        "model": p.model,
        "llm_call_id": p.llm_call_id,
        "wall_time_s": p.wall_time_s,
        "duplicate_of": p.duplicate_of,
        "code_hash": p.code_hash,
    }


def row_program(row: dict[str, Any], code: str) -> Program:
    return Program(
        id=row["id"],
        code=code,
        parent_ids=tuple(row["parent_ids"] or ()),
        island=row["island"],
        generation=row["generation"],
        iteration=row["iteration"],
        created_at=row["created_at"],
        status=Status(row["status"]),
        metrics=json.loads(row["metrics"]),
        score=row["score"],
        fitness=row["fitness"],
        artifacts=json.loads(row["artifacts"]),
        reason=row["reason"],
        edit_kind=row["edit_kind"],
        model=row["model"],
        llm_call_id=row["llm_call_id"],
        wall_time_s=row["wall_time_s"],
        duplicate_of=row["duplicate_of"],
        code_hash=row["code_hash"],
    )


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
        """Open an existing run. Reads see only committed segments.

        With ``repair`` (resume, not inspection: a live run may be writing), the
        segments no checkpoint committed are deleted.
        """
        root = Path(root)
        if not (root / "run.json").is_file():
            raise StoreError(f"{root}: not a run directory (no run.json); check the path")
        store = cls(root)
        checkpoint = store.load_checkpoint()
        committed = (checkpoint or {}).get("segments", dict.fromkeys(TABLES, 0))
        compacted = (checkpoint or {}).get("compacted", {})
        for table in TABLES:
            store._segments[table] = int(committed.get(table, 0))
            store._compacted[table] = [(int(a), int(b)) for a, b in compacted.get(table, [])]
        if repair:
            store._repair()
        return store

    def _repair(self) -> None:
        """Remove what a crash left: half-written temp files and segments written
        after the last checkpoint (their records were not part of the committed
        state, so the resumed run redoes them). Committed segments must read back."""
        for tmp in [*self.root.glob(".*.tmp"), *self.root.glob("*/.*.tmp")]:
            log.warning("%s: removing a file torn by a crash (%s)", self.root, tmp.name)
            tmp.unlink()
        for table in TABLES:
            ranges = set(self._compacted[table])
            for path in (self.root / table).glob("compact-*.parquet"):
                if _range_of(path) not in ranges:  # a compaction the crash interrupted
                    log.warning("%s: removing an unfinished compaction (%s)", self.root, path.name)
                    path.unlink()
            for path in sorted((self.root / table).glob("part-*.parquet")):
                if self._covered(table, _number_of(path)):  # already merged; crash before delete
                    path.unlink()
            for path in self._segment_paths(table, committed_only=False):
                if path.name.startswith("compact-"):
                    continue
                if int(path.stem.split("-")[1]) <= self._segments[table]:
                    try:
                        pq.read_metadata(path)
                    except Exception as exc:
                        raise StoreError(
                            f"{path}: committed segment is unreadable ({exc}); it was fsynced "
                            "before the checkpoint named it, so the storage lost it: restore "
                            "the run directory from a backup"
                        ) from exc
                    continue
                try:
                    rows = pq.read_metadata(path).num_rows
                    what = f"{rows} record(s) written after the last checkpoint"
                except Exception:
                    what = "a torn segment"
                log.warning("%s: dropping %s (%s); the run redoes them", self.root, what, path.name)
                path.unlink()

    @property
    def settings(self) -> dict[str, Any]:
        return json.loads((self.root / "run.json").read_text())

    @property
    def problem_dir(self) -> Path:
        return self.root / "problem"

    # -- writing --------------------------------------------------------------

    def append_program(self, program: Program) -> None:
        if self._known_code is None:
            self._known_code = set(self.read_table("code").column("code_hash").to_pylist())
        self._pending["programs"].append(_program_row(program))
        self._lookup.pending(program)
        if program.code_hash not in self._known_code:
            self._known_code.add(program.code_hash)
            self._pending["code"].append({"code_hash": program.code_hash, "code": program.code})

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
        written: set[Path] = set()
        for table in TABLES:
            rows = self._pending[table]
            if not rows:
                continue
            n = self._segments[table] + 1
            path = self.root / table / f"part-{n:06d}.parquet"
            self._lookup.committed(table, path, rows)
            path.parent.mkdir(exist_ok=True)  # tables added by a later schema version
            tmp = path.with_name(f".{path.name}.tmp")
            pq.write_table(pa.Table.from_pylist(rows, schema=SCHEMAS[table]), tmp)
            with open(tmp, "rb+") as f:
                os.fsync(f.fileno())
            os.replace(tmp, path)
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
                if self._covered(table, _number_of(path)):
                    path.unlink()
            self._lookup.reindex()

    def _loose(self, table: str) -> list[Path]:
        return [p for p in self._segment_paths(table) if p.name.startswith("part-")]

    def _covered(self, table: str, number: int) -> bool:
        return any(a <= number <= b for a, b in self._compacted[table])

    def _compact(self, table: str) -> bool:
        """Merge the loose committed segments of ``table`` into one file once there
        are ``COMPACT_AT`` of them, so file counts stay small. The merged file is
        named by the range it covers; it takes effect with the next checkpoint
        (a crash before that leaves it unnamed, and resume deletes it)."""
        merged_up_to = max((b for _, b in self._compacted[table]), default=0)
        if self._segments[table] - merged_up_to < COMPACT_AT:  # cheap: no directory scan
            return False
        loose = self._loose(table)
        first, last = _number_of(loose[0]), _number_of(loose[-1])
        merged = pa.concat_tables([pq.read_table(p, schema=SCHEMAS[table]) for p in loose])
        path = self.root / table / f"compact-{first:06d}-{last:06d}.parquet"
        tmp = path.with_name(f".{path.name}.tmp")
        pq.write_table(merged, tmp, row_group_size=ROW_GROUP)
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
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
            raise StoreError(f"{path}: unreadable checkpoint ({exc})") from exc

    def _segment_paths(self, table: str, committed_only: bool = True) -> list[Path]:
        """The files holding ``table``, in record order: merged ranges and loose parts."""
        ranges = self._compacted[table]
        files: list[tuple[int, Path]] = [
            (a, self.root / table / f"compact-{a:06d}-{b:06d}.parquet") for a, b in ranges
        ]
        for path in (self.root / table).glob("part-*.parquet"):
            number = _number_of(path)
            if self._covered(table, number):
                continue
            if committed_only and number > self._segments[table]:
                continue
            files.append((number, path))
        return [path for _, path in sorted(files)]

    def read_table(self, table: str) -> pa.Table:
        """All committed rows of ``table`` (readable while the run is live)."""
        parts = [pq.read_table(p, schema=SCHEMAS[table]) for p in self._segment_paths(table)]
        if not parts:
            return SCHEMAS[table].empty_table()
        return pa.concat_tables(parts)

    def get_program(self, program_id: str) -> Program:
        """One program by id, recorded or still pending (random access for the
        database, which keeps only metadata in memory)."""
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
