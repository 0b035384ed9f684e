"""The run directory's tables: their versioned Parquet schemas and row conversions.

Versions (``SCHEMA_VERSION``; ``run.json`` keeps the version that created the
run, ``checkpoint.json`` the version of its last writer):

1. ``programs``, ``code``, ``events``, ``llm_calls``.
2. adds the ``evaluations`` table (one row per sandbox evaluation: peak memory,
   stage reached, wall time); the other tables are unchanged.
3. adds the nullable ``staleness`` column to ``programs`` (programs the database
   gained between a child's sampling and the start of its evaluation); older
   files read it as null.
4. the database checkpoint is incremental: ``RUN/database/`` holds a base
   snapshot and an append-only delta log of the changes since it, and
   checkpoint.json's ``"database"`` names them and the log's committed length
   instead of holding the whole state (``evolve.store.database_log``). The
   tables are unchanged. Older runs (the state inline) read and resume as they
   are; their first commit after a resume writes the files. An evolve of
   version 3 or older refuses to resume a version-4 run (it could not restore
   its database) but reads its tables.
5. adds the nullable ``record_hash`` column to ``programs``: a hash chain over
   the records (``evolve.store.chain``), with its last hash in checkpoint.json
   (``chain_head``). Older rows read it as null and are reported as unhashed.
6. adds the nullable ``messages`` (JSON list of the chat messages sent) and
   ``completion`` (the text the model returned) columns to ``llm_calls``, so a
   run's proposals export as fine-tuning traces (``evolve.analysis.traces``);
   start-up check calls are rows too (``edit_kind`` "preflight"). Older rows
   read both as null: those runs predate stored prompts.
7. adds the nullable ``probe_count`` and ``probes`` (JSON: ``counts`` by kind,
   a short ``log``, the kinds the sandbox could ``see``) columns to
   ``evaluations``: what the candidate tried that its sandbox refused
   (``evaluators._monitor``). Older rows, and sandboxes that monitor nothing,
   read both as null: unknown, not zero.
8. adds the nullable ``prompt_variant`` column to ``llm_calls``: the ``[meta]``
   system-prompt variant a proposal was asked with (``original``, ``v1``, ...;
   null without ``[meta]`` prompt evolution and for every other call).

Evolution rule: a later version only adds tables or nullable columns, never
renames, retypes or drops one. Readers read every file with the current schema
(``pq.read_table(path, schema=...)``), which fills a column an older file lacks
with nulls, and a table an older run lacks reads as empty. So a run of any
earlier version opens, reads and resumes in place: nothing is rewritten (a
merge of segments rewrites them in the current schema, which is a superset).
"""

from __future__ import annotations

import json
import time
from typing import Any

import pyarrow as pa

from evolve.records import Program, Status

__all__ = [
    "CODE_SCHEMA",
    "EVALUATION_SCHEMA",
    "EVENT_SCHEMA",
    "LLM_CALL_SCHEMA",
    "PROGRAM_SCHEMA",
    "SCHEMAS",
    "SCHEMA_VERSION",
    "TABLES",
    "evaluation_row",
    "program_row",
    "row_program",
]

SCHEMA_VERSION = 8

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
        ("staleness", pa.int32()),  # version 3
        ("record_hash", pa.string()),  # version 5 (evolve.store.chain)
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
        ("messages", pa.string()),  # version 6: JSON list of the messages sent
        ("completion", pa.string()),  # version 6: the reply text; null without one
        ("prompt_variant", pa.string()),  # version 8: the [meta] variant of a proposal
    ]
)
# Version 2. Why a table of its own rather than program columns: an evaluation
# is what the sandbox measured (resources, how far the scorer got), a program
# is what evolution knows; duplicates are programs without an evaluation, and
# a program may one day be evaluated again (re-scoring, more fidelity).
EVALUATION_SCHEMA = pa.schema(
    [
        ("program_id", pa.string()),
        ("iteration", pa.int64()),
        ("finished_at", pa.float64()),  # wall clock when the result was recorded
        ("status", pa.string()),
        ("wall_time_s", pa.float64()),
        ("peak_memory_mb", pa.float64()),  # 0.0 where the sandbox does not measure it
        ("stage_reached", pa.int32()),  # cascade stage the scorer got to
        ("probe_count", pa.int32()),  # version 7: attempts the sandbox refused
        ("probes", pa.string()),  # version 7: JSON {"counts", "log", "seen"}
    ]
)
SCHEMAS = {
    "programs": PROGRAM_SCHEMA,
    "code": CODE_SCHEMA,
    "events": EVENT_SCHEMA,
    "llm_calls": LLM_CALL_SCHEMA,
    "evaluations": EVALUATION_SCHEMA,
}
TABLES = tuple(SCHEMAS)


def program_row(p: Program) -> dict[str, Any]:
    if p.status is None:
        raise ValueError(f"program {p.id} is not scored yet; only scored programs are stored")
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
        "staleness": p.staleness,
        "record_hash": p.record_hash,
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
        staleness=row.get("staleness"),
        record_hash=row.get("record_hash"),
    )


def evaluation_row(
    program: Program,
    peak_memory_mb: float | None,
    stage_reached: int | None,
    probes: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """``probes``: the sandbox's behaviour report (``counts``, ``log``, ``seen``),
    None where it monitored nothing."""
    return {
        "program_id": program.id,
        "iteration": program.iteration,
        "finished_at": time.time(),
        "status": str(program.status),
        "wall_time_s": program.wall_time_s,
        "peak_memory_mb": peak_memory_mb,
        "stage_reached": stage_reached,
        "probe_count": None if probes is None else sum(probes.get("counts", {}).values()),
        "probes": None if probes is None else json.dumps(probes, sort_keys=True),
    }
