"""Human review of a run: which programs await a decision, and recording one.

What needs a human's eye by default is each new best: the programs a user
would deploy or report. ``awaiting`` lists them (with their diff against their
parent and their metrics) until someone approves or rejects each; ``decide``
records a decision in ``RUN/reviews.jsonl`` (``evolve.store.reviews``), which a
live run can be reviewed into, and which ``evolve export --approved`` and the
``[governance] pause_on`` gate read.
"""

from __future__ import annotations

import difflib
import json
from pathlib import Path
from typing import Any

from evolve.errors import UsageError
from evolve.store import RunStore
from evolve.store.reviews import Decision, DecisionKind, ReviewLog, new_decision

__all__ = ["approved_ids", "decide", "new_bests", "review_items"]


def new_bests(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The programs that were the run's best when recorded, in record order
    (evaluated, OK, higher fitness than every program before them)."""
    bests: list[dict[str, Any]] = []
    top: float | None = None
    for row in rows:
        fitness = row["fitness"]
        if row["duplicate_of"] is not None or fitness is None:
            continue
        if top is None or fitness > top:
            top = fitness
            bests.append(row)
    return bests


def review_items(run_dir: Path, include_decided: bool = False) -> list[dict[str, Any]]:
    """Each new best with its diff, metrics and decision; only undecided ones
    unless ``include_decided``."""
    store = RunStore.open(run_dir)
    rows = store.read_table("programs").to_pylist()
    latest = ReviewLog(store.root).latest()
    items = []
    for row in new_bests(rows):
        decision = latest.get(row["id"])
        if decision is not None and not include_decided:
            continue
        parent = (row["parent_ids"] or [None])[0]
        code = store.get_program(row["id"]).code
        before = store.get_program(parent).code if parent else ""
        items.append(
            {
                "id": row["id"],
                "iteration": row["iteration"],
                "score": row["score"],
                "parent": parent,
                "model": row["model"],
                "metrics": json.loads(row["metrics"]),
                "diff": "".join(
                    difflib.unified_diff(
                        before.splitlines(keepends=True),
                        code.splitlines(keepends=True),
                        fromfile=parent or "(none)",
                        tofile=row["id"],
                    )
                ),
                "decision": None if decision is None else decision.decision,
                "decided_by": None if decision is None else decision.by,
                "note": None if decision is None else decision.note,
            }
        )
    return items


def decide(
    run_dir: Path, program_id: str, decision: DecisionKind, note: str, by: str | None = None
) -> Decision:
    """Record ``decision`` on ``program_id`` (which must be a committed program of
    the run) with the reviewer's ``note``."""
    if not note.strip():
        raise UsageError("a decision needs --note TEXT: why (it is kept with who and when)")
    store = RunStore.open(run_dir)
    ids = set(store.read_table("programs", columns=["id"]).column("id").to_pylist())
    if program_id not in ids:
        raise UsageError(
            f"{run_dir}: has no program {program_id!r}; `evolve review {run_dir}` lists those "
            "awaiting a decision"
        )
    made = new_decision(program_id, decision, note.strip(), by)
    ReviewLog(store.root).append(made)
    return made


def approved_ids(run_dir: Path) -> list[str]:
    """Programs whose latest decision is an approval, in the order decided."""
    return [
        d.program_id for d in ReviewLog(Path(run_dir)).latest().values() if d.decision == "approved"
    ]
