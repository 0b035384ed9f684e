"""Tamper-evident program records: a hash chain over the programs table.

Page checksums catch a flipped bit, and code hashes catch a text rewritten
under its score; neither catches a record rewritten whole with a tool that
writes valid Parquet (a score raised, a failure turned into a success, a
program deleted). So each program row carries ``record_hash``: the SHA-256 of
its own fields (the code's hash, the evaluation's status, score, metrics,
artifacts, the lineage, ...), of its parents' record hashes, and of the record
written just before it. Changing or deleting any record changes every hash
after it, and ``checkpoint.json`` holds the last one (``chain_head``), so
cutting records off the end shows too. ``verify_chain`` names the first record
that does not match.

What it is not: a signature. Whoever can rewrite the whole run directory can
recompute every hash; the certificate ``evolve verify`` writes, kept apart from
the run, pins the head at that time.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["ChainReport", "record_hash", "verify_chain"]

VERSION = "1"  # of the hashed form; a later form would be a new prefix
# The programs columns version 1 hashes (schema 5). Fixed here: a column a later
# schema adds reads as null in older rows, and must not change their hashes.
HASHED_FIELDS = (
    "id",
    "parent_ids",
    "island",
    "generation",
    "iteration",
    "created_at",
    "status",
    "score",
    "fitness",
    "metrics",
    "artifacts",
    "reason",
    "edit_kind",
    "model",
    "llm_call_id",
    "wall_time_s",
    "duplicate_of",
    "code_hash",
    "staleness",
)


def record_hash(row: Mapping[str, Any], previous: str, parent_hashes: Iterable[str]) -> str:
    """The hash of a program row (its ``HASHED_FIELDS``) chained to the record
    before it and to its parents' records ("" where none)."""
    # the values in HASHED_FIELDS order: a list, so no key sorting per record
    fields = [_plain(row.get(k)) for k in HASHED_FIELDS]
    body = json.dumps(
        [VERSION, previous, list(parent_hashes), fields],
        separators=(",", ":"),
        ensure_ascii=False,
    )
    return hashlib.sha256(body.encode("utf-8")).hexdigest()[:32]


def _plain(value: Any) -> Any:
    """One JSON form for a value however it was read back (a list column may
    come back as a tuple or a list)."""
    return list(value) if isinstance(value, tuple) else value


@dataclass(frozen=True)
class ChainReport:
    """What ``verify_chain`` found."""

    checked: int  # rows whose hash was recomputed
    unhashed: int  # rows written before record hashes (schema <= 4)
    broken_at: str | None  # id of the first record that does not match
    problem: str  # why, or "" when the chain holds

    @property
    def ok(self) -> bool:
        return self.broken_at is None and not self.problem


def verify_chain(
    rows: Iterable[Mapping[str, Any]], head: str | None, where: Callable[[str], str] = str
) -> ChainReport:
    """Recompute the chain over the programs rows in record order; ``head`` is
    the checkpoint's ``chain_head`` (None: the run predates it)."""
    hashes: dict[str, str] = {}
    previous = ""
    checked = unhashed = 0
    for row in rows:
        stored = row.get("record_hash")
        if stored is None:
            unhashed += 1
            previous = ""
            continue
        parents = [hashes.get(pid, "") for pid in row["parent_ids"] or ()]
        if record_hash(row, previous, parents) != stored:
            return ChainReport(
                checked,
                unhashed,
                row["id"],
                f"the record of {where(row['id'])} does not match its hash: it, the record "
                "before it or a parent's record was changed, removed or reordered",
            )
        hashes[row["id"]] = stored
        previous = stored
        checked += 1
    if head is not None and head != previous:
        return ChainReport(
            checked,
            unhashed,
            None,
            f"the last record's hash is {previous or 'none'}, but checkpoint.json's chain_head "
            f"is {head}: records were removed from the end",
        )
    return ChainReport(checked, unhashed, None, "")
