"""`evolve export RUN --traces FILE`: every LLM proposal of a run as a chat
record fine-tuning tools accept, with what came of it.

One record per proposal call (the run's ``llm_calls`` rows, start-up checks,
calls a stop cancelled, and the calls that are no proposal, such as
embeddings, judges and the ``[meta]`` writers, left out), in call order::

    {"messages": [<system and user messages, exactly as sent>,
                  {"role": "assistant", "content": <the completion>}],
     "metadata": {"llm_call_id", "model", "parent_id", "parent_score",
                  "child_id", "child_score", "reward", "status", "edit_kind",
                  "prompt_tokens", "completion_tokens", "cost_usd"}}

The outcome is joined from the run's other tables: a child program row names
its call (``llm_call_id``; ``parent_ids[0]`` is its parent); a rejected edit or
a stale child is an event whose payload names it; a call that failed is
recorded by the engine as a rejection without a proposal, and its reason names
the call (``(llm call <id>)``, ``evolve.mutation.llm.proposer``). ``reward`` is
the child's fitness minus the parent's (fitness: higher is better), null when
either is missing. Runs of run-store schema 6 and later store the texts
(``messages``, ``completion``); older runs cannot be exported.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from evolve.errors import UsageError
from evolve.records import EventKind
from evolve.store import RunStore

__all__ = ["STATUSES", "TRACE_SCHEMA", "TraceExport", "export_traces", "trace_records"]

# The run-store schema that first stored prompts and completions.
TEXTS_SINCE_SCHEMA = 6

# ``status`` of a record: a child's own status, or why the proposal gave none.
STATUSES = (
    "ok",
    "invalid",
    "timeout",
    "oom",
    "error",
    "duplicate",  # the child's code was already in the population: not evaluated
    "rejected",  # the edit did not apply (no blocks, a SEARCH that did not match, ...)
    "failed_call",  # no reply after the retries (the completion is "")
    "stale",  # dropped over --max-staleness before its evaluation
    "unknown",  # no record names the call: a duplicate of a program then being
    # evaluated (its event names no call), or a proposal unsettled at the stop
)

# Written by evolve.mutation.llm (which analysis may not import): the edit_kind
# of a start-up check, the error prefix of a call a stop cancelled, and how a
# failed call's rejection names it.
_PREFLIGHT = "preflight"
# ... and the edit_kinds of calls that propose no edit (evolve.novelty, evolve.judging,
# evolve.mutation.meta): no child comes of them, so they are no trace of a proposal.
_NOT_PROPOSALS = frozenset(
    {_PREFLIGHT, "embedding", "novelty_judge", "metric_judge", "prompt_writer", "scratchpad"}
)
_CANCELLED = "cancelled"
_FAILED_CALL_ID = re.compile(r"\(llm call (c[0-9a-f]+)\)")

_METADATA_TYPE = pa.struct(
    [
        ("llm_call_id", pa.string()),
        ("model", pa.string()),
        ("parent_id", pa.string()),
        ("parent_score", pa.float64()),
        ("child_id", pa.string()),
        ("child_score", pa.float64()),
        ("reward", pa.float64()),
        ("status", pa.string()),
        ("edit_kind", pa.string()),
        ("prompt_tokens", pa.int64()),
        ("completion_tokens", pa.int64()),
        ("cost_usd", pa.float64()),
    ]
)
TRACE_SCHEMA = pa.schema(
    [
        ("messages", pa.list_(pa.struct([("role", pa.string()), ("content", pa.string())]))),
        ("metadata", _METADATA_TYPE),
    ]
)


@dataclass(frozen=True)
class TraceExport:
    """What ``export_traces`` wrote. ``skipped``: proposal calls without stored
    texts (made before schema 6, in a run a newer evolve resumed)."""

    path: Path
    records: int
    skipped: int


@dataclass(frozen=True)
class _Outcome:
    """What a proposal call led to."""

    status: str
    parent_id: str | None
    child_id: str | None = None


def export_traces(run_dir: str | Path, out: str | Path) -> TraceExport:
    """Write the traces of ``run_dir`` to ``out``: JSON Lines (``.jsonl``) or
    Parquet (``.parquet``), by its suffix. Refuses a run with nothing to
    export (offline mutator, a run that predates stored prompts, no proposals
    yet) with ``UsageError`` naming the run and why."""
    path = Path(out)
    suffix = path.suffix.lower()
    if suffix not in (".jsonl", ".parquet"):
        raise UsageError(
            f"--traces {path}: name a .jsonl file (JSON Lines) or a .parquet file (Parquet)"
        )
    records, skipped = trace_records(run_dir)
    if suffix == ".parquet":
        pq.write_table(pa.Table.from_pylist(records, schema=TRACE_SCHEMA), path)
    else:
        with path.open("w", encoding="utf-8") as file:
            for record in records:
                file.write(json.dumps(record, ensure_ascii=False, allow_nan=False) + "\n")
    return TraceExport(path, len(records), skipped)


def trace_records(run_dir: str | Path) -> tuple[list[dict[str, Any]], int]:
    """The trace records of ``run_dir`` in call order, and how many proposal
    calls were left out for lack of stored texts."""
    store = RunStore.open(Path(run_dir))
    settings = store.settings
    version = int(settings.get("schema_version", 1))
    if (settings.get("mutation") or {}).get("model") == "offline":
        raise UsageError(
            f"{run_dir}: was run with the offline mutator, which makes no LLM calls, so it "
            "has no traces to export; traces come from runs with --model llm or --model NAME"
        )
    calls = [
        call
        for call in store.read_table("llm_calls").to_pylist()
        if call["edit_kind"] not in _NOT_PROPOSALS and not _cancelled(call)
    ]
    stored = [call for call in calls if call["messages"] is not None]
    if not stored and version < TEXTS_SINCE_SCHEMA:
        raise UsageError(
            f"{run_dir}: the run predates stored prompts (run-store schema {version} < "
            f"{TEXTS_SINCE_SCHEMA}): its llm_calls rows hold no messages or completions, so "
            "there are no traces to export; runs made with this evolve store them"
        )
    if not stored:
        raise UsageError(f"{run_dir}: has no LLM proposals recorded yet, so no traces to export")
    programs = {
        row["id"]: row
        for row in store.read_table(
            "programs",
            columns=[
                "id",
                "parent_ids",
                "score",
                "fitness",
                "status",
                "llm_call_id",
                "duplicate_of",
            ],
        ).to_pylist()
    }
    outcomes = _outcomes(programs.values(), store.load_events())
    stored.sort(key=lambda call: (call["created_at"], call["id"]))
    records = [_record(call, outcomes, programs) for call in stored]
    return records, len(calls) - len(stored)


def _cancelled(call: dict[str, Any]) -> bool:
    return bool(call["error"]) and str(call["error"]).startswith(_CANCELLED)


def _outcomes(
    programs: Iterable[dict[str, Any]], events: Iterable[dict[str, Any]]
) -> dict[str, _Outcome]:
    """Call id -> what its proposal led to."""
    outcomes: dict[str, _Outcome] = {}
    for row in programs:
        call_id = row["llm_call_id"]
        if call_id is None:
            continue  # the seed, or a program of the offline mutator
        parent = (row["parent_ids"] or [None])[0]
        if row["duplicate_of"] is not None:
            outcomes[call_id] = _Outcome("duplicate", parent)
        else:
            outcomes[call_id] = _Outcome(row["status"], parent, row["id"])
    for event in events:
        payload = event["payload"]
        if event["kind"] == EventKind.STALE_DROPPED and payload.get("llm_call_id"):
            outcomes[payload["llm_call_id"]] = _Outcome("stale", payload.get("parent_id"))
        elif event["kind"] == EventKind.EDIT_REJECTED:
            call_id = payload.get("llm_call_id")
            status = "rejected"
            if not call_id:
                named = _FAILED_CALL_ID.search(str(payload.get("reason") or ""))
                call_id, status = (named.group(1), "failed_call") if named else (None, status)
            if call_id:
                outcomes[call_id] = _Outcome(status, payload.get("parent_id"))
    return outcomes


def _record(
    call: dict[str, Any], outcomes: dict[str, _Outcome], programs: dict[str, dict[str, Any]]
) -> dict[str, Any]:
    outcome = outcomes.get(call["id"], _Outcome("unknown", None))
    if call["error"] is not None:
        outcome = _Outcome("failed_call", outcome.parent_id)
    parent = programs.get(outcome.parent_id or "")
    child = programs.get(outcome.child_id or "")
    messages = [_message(m) for m in json.loads(call["messages"])]
    messages.append({"role": "assistant", "content": call["completion"] or ""})
    return {
        "messages": messages,
        "metadata": {
            "llm_call_id": call["id"],
            "model": call["model"],
            "parent_id": outcome.parent_id,
            "parent_score": _finite(parent["score"]) if parent else None,
            "child_id": outcome.child_id,
            "child_score": _finite(child["score"]) if child else None,
            "reward": _reward(parent, child),
            "status": outcome.status,
            "edit_kind": call["edit_kind"],
            "prompt_tokens": call["prompt_tokens"],
            "completion_tokens": call["completion_tokens"],
            "cost_usd": call["cost_usd"],
        },
    }


def _message(message: dict[str, Any]) -> dict[str, str]:
    content = message.get("content")
    return {
        "role": str(message.get("role")),
        "content": content if isinstance(content, str) else json.dumps(content),
    }


def _reward(parent: dict[str, Any] | None, child: dict[str, Any] | None) -> float | None:
    """Child fitness minus parent fitness (higher is better); None if either is unknown."""
    if parent is None or child is None:
        return None
    gain = _finite(child["fitness"]), _finite(parent["fitness"])
    return None if gain[0] is None or gain[1] is None else gain[0] - gain[1]


def _finite(value: float | None) -> float | None:
    """``value``, or None for a missing or non-finite number (JSON has no inf)."""
    return value if value is not None and math.isfinite(value) else None
