"""The database's checkpoint files: an occasional full base and an append-only delta log.

Writing the whole database state at every commit makes a commit cost
O(programs) (~55 ms at 100k programs, every 256 records). Instead::

    RUN/database/
      base-NNNNNN.json     a full database snapshot, written whole and atomically
      delta-NNNNNN.jsonl   the database's journal entries since base NNNNNN,
                           one JSON line each, append-only

and checkpoint.json's ``"database"`` names them (a few hundred bytes)::

    {"format": 3, "base": "base-000002.json", "delta": "delta-000002.jsonl",
     "entries": 812, "bytes": 20345, "crc32": 1234567, "base_crc32": 89,
     "programs": 100812, "position": {"rng": {...}, "cursor": 1}}

``entries``/``bytes``/``crc32`` are the committed length of the delta log and
the CRC-32 of those bytes, ``programs`` the database's size at the commit, and
``position`` its generator and round-robin cursor then (``sample`` changes
them between journalled calls). A commit appends its new entries to the delta
log (fsynced before the checkpoint names the new length), so it costs what
changed. When the log grows past ``max(COMPACT_MIN, COMPACT_FRACTION *
programs)`` entries, the commit writes a new base instead (base and log
``NNNNNN + 1``); that O(programs) write comes at most once per
``COMPACT_FRACTION * programs`` adds, so its cost per add stays O(1), and a
restore replays at most that many entries. The old pair is deleted only after
the checkpoint naming the new one is durable.

A crash can leave bytes past the committed length (an append whose checkpoint
was never written), or a base and log the checkpoint does not name (a
compaction whose checkpoint was never written). Readers read only the
committed length, so neither is ever seen; resume (``repair``) cuts the log
back and deletes the unnamed files. Runs before schema 4 kept the whole state
inline in checkpoint.json's ``"database"``; they are read as they are, and the
first commit of such a run after a resume writes its first base.

The store never imports the database: a commit is handed the journal, the
position and a callable that takes a full snapshot (``DatabaseCommit``), and a
read gives back ``{"base", "replay", "rng", "cursor"}``, the journalled state
``PopulationDatabase.restore`` replays.
"""

from __future__ import annotations

import json
import logging
import os
import zlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from evolve.errors import StoreError
from evolve.store.files import append_at, fsync_dir, write_atomic
from evolve.store.integrity import DAMAGED_FIX, damaged

__all__ = [
    "COMPACT_FRACTION",
    "COMPACT_MIN",
    "DATABASE_DIR",
    "DatabaseCommit",
    "DatabaseLog",
    "is_reference",
]

log = logging.getLogger("evolve.store")

DATABASE_DIR = "database"
COMPACT_MIN = 2_000  # delta entries always allowed before a new base
COMPACT_FRACTION = 0.25  # ... or this share of the programs, whichever is more
REFERENCE_FORMAT = 3  # of the "database" value that names files (snapshots are 2)


@dataclass(frozen=True)
class DatabaseCommit:
    """What a commit needs from the database, as plain values.

    ``journal``: the entries since the previous commit (``take_journal``), or
    None when the database has no journal to give (its first): a new base is
    then written. ``snapshot`` is called only when a base is written.
    """

    journal: Sequence[Mapping[str, Any]] | None
    position: Mapping[str, Any]
    programs: int
    snapshot: Callable[[], Mapping[str, Any]]


def is_reference(value: object) -> bool:
    """Whether a checkpoint's ``"database"`` names files (else an inline state)."""
    return isinstance(value, Mapping) and isinstance(value.get("base"), str)


def _names(generation: int) -> tuple[str, str]:
    return f"base-{generation:06d}.json", f"delta-{generation:06d}.jsonl"


def _generation(reference: Mapping[str, Any]) -> int:
    return int(str(reference["base"]).split("-")[1].split(".")[0])


@dataclass(frozen=True)
class Staged:
    """A commit's database part, durable on disk: what the checkpoint names, and
    the files to delete once that checkpoint is durable."""

    reference: dict[str, Any]
    obsolete: tuple[Path, ...]


class DatabaseLog:
    """The run's base and delta files, and what its checkpoint committed of them."""

    def __init__(self, root: Path) -> None:
        self.folder = root / DATABASE_DIR
        self.reference: dict[str, Any] | None = None  # the checkpoint's, if it names files
        self._pending: list[bytes] = []  # journal lines not yet committed
        self._pending_adds = 0

    def load(self, value: object) -> None:
        """Take what a checkpoint's ``"database"`` names (an inline state or none:
        no base yet, so the next commit writes one)."""
        self.reference = dict(value) if isinstance(value, Mapping) and is_reference(value) else None

    # -- writing ----------------------------------------------------------------

    def stage(self, commit: DatabaseCommit) -> Staged:
        """Write this commit's part (new delta lines, or a new base) durably."""
        if commit.journal is not None:
            for entry in commit.journal:
                self._pending.append(json.dumps(entry, separators=(",", ":")).encode() + b"\n")
                self._pending_adds += entry.get("op") == "add"
        ref = self.reference
        # The journal must cover exactly what happened since the base, else a
        # replay would not reach this state: then a new base, which needs none.
        follows = (
            ref is not None
            and commit.journal is not None
            and int(ref["programs"]) + self._pending_adds == commit.programs
        )
        entries = (0 if ref is None else int(ref["entries"])) + len(self._pending)
        if (
            ref is None
            or not follows
            or entries > max(COMPACT_MIN, COMPACT_FRACTION * commit.programs)
        ):
            return self._write_base(commit, ref)
        data = b"".join(self._pending)
        if data:
            append_at(self.folder / ref["delta"], int(ref["bytes"]), data)
        reference = {
            **ref,
            "entries": entries,
            "bytes": int(ref["bytes"]) + len(data),
            "crc32": zlib.crc32(data, int(ref["crc32"])),
            "programs": commit.programs,
            "position": dict(commit.position),
        }
        return Staged(reference, ())

    def _write_base(self, commit: DatabaseCommit, ref: Mapping[str, Any] | None) -> Staged:
        generation = 1 if ref is None else _generation(ref) + 1
        base_name, delta_name = _names(generation)
        self.folder.mkdir(exist_ok=True)
        delta = self.folder / delta_name
        delta.write_bytes(b"")  # empty, and made durable by the folder's fsync below
        data = json.dumps(commit.snapshot(), separators=(",", ":")).encode()
        write_atomic(self.folder / base_name, data)  # fsyncs the file and the folder
        reference = {
            "format": REFERENCE_FORMAT,
            "base": base_name,
            "delta": delta_name,
            "entries": 0,
            "bytes": 0,
            "crc32": 0,
            "base_crc32": zlib.crc32(data),
            "programs": commit.programs,
            "position": dict(commit.position),
        }
        obsolete = () if ref is None else tuple(self.folder / ref[k] for k in ("base", "delta"))
        return Staged(reference, obsolete)

    def committed(self, staged: Staged) -> None:
        """The checkpoint naming ``staged`` is durable: it is the truth now, and
        the files it no longer names can go."""
        self.reference = staged.reference
        self._pending.clear()
        self._pending_adds = 0
        for path in staged.obsolete:
            path.unlink(missing_ok=True)
        if staged.obsolete:
            fsync_dir(self.folder)

    def dropped(self) -> None:
        """A checkpoint with an inline state replaced the files (a caller that
        passed the whole state itself): they are named no more."""
        if self.reference is not None:
            for key in ("base", "delta"):
                (self.folder / self.reference[key]).unlink(missing_ok=True)
        self.reference = None
        self._pending.clear()
        self._pending_adds = 0

    # -- reading ----------------------------------------------------------------

    def read(self, reference: Mapping[str, Any]) -> dict[str, Any]:
        """The journalled state ``reference`` names: its base, the committed delta
        entries, and the final position. Reads only the committed length, so a
        live run's appends since are never seen. ``FileNotFoundError`` if a file
        is gone (a reader raced a compaction: re-read the checkpoint)."""
        if reference.get("format") != REFERENCE_FORMAT:
            raise StoreError(
                f"{self.folder.parent / 'checkpoint.json'}: its database files are of format "
                f"{reference.get('format')!r}, this evolve reads {REFERENCE_FORMAT}; "
                "upgrade evolve to read this run"
            )
        base_path = self.folder / reference["base"]
        data = base_path.read_bytes()
        if zlib.crc32(data) != int(reference["base_crc32"]):
            raise damaged(base_path, "its CRC-32 is not the one the checkpoint recorded")
        try:
            base = json.loads(data)
        except ValueError as exc:
            raise damaged(base_path, f"not valid JSON ({exc})") from exc
        return {
            "base": base,
            "replay": self._entries(reference),
            **reference["position"],
        }

    def _entries(self, reference: Mapping[str, Any]) -> list[dict[str, Any]]:
        size, count = int(reference["bytes"]), int(reference["entries"])
        if count == 0:
            return []
        path = self.folder / reference["delta"]
        with open(path, "rb") as f:
            data = f.read(size)
        if len(data) < size:
            raise damaged(path, f"holds {len(data)} bytes, but the checkpoint committed {size}")
        if zlib.crc32(data) != int(reference["crc32"]):
            raise damaged(path, "its first bytes' CRC-32 is not the one the checkpoint recorded")
        lines = data.split(b"\n")[:-1]
        if len(lines) != count or not data.endswith(b"\n"):
            raise damaged(
                path, f"holds {len(lines)} entries where the checkpoint committed {count}"
            )
        return [json.loads(line) for line in lines]

    # -- repair -----------------------------------------------------------------

    def repair(self) -> None:
        """Bring the folder back to what the checkpoint names: cut the delta log
        back to its committed length, delete the bases and logs it does not name
        (see the module docstring). A named file that is missing or shorter than
        committed is damage: ``StoreError`` naming it."""
        if not self.folder.is_dir():
            if self.reference is not None:
                raise _missing(self.folder / self.reference["base"])
            return
        ref = self.reference
        named = set() if ref is None else {ref["base"], ref["delta"]}
        for path in sorted(self.folder.iterdir()):
            if path.name not in named and path.suffix in (".json", ".jsonl"):
                log.warning(
                    "%s: removing a database file no checkpoint names (%s)",
                    self.folder.parent,
                    path.name,
                )
                path.unlink()
        if ref is None:
            return
        base, delta = self.folder / ref["base"], self.folder / ref["delta"]
        if not base.is_file():
            raise _missing(base)
        committed = int(ref["bytes"])
        size = delta.stat().st_size if delta.is_file() else -1
        if size < 0:
            raise _missing(delta)
        if size < committed:
            raise damaged(delta, f"holds {size} bytes, but the checkpoint committed {committed}")
        if size > committed:
            log.warning(
                "%s: dropping %d byte(s) of database journal written after the last "
                "checkpoint (%s); the run redoes them",
                self.folder.parent,
                size - committed,
                delta.name,
            )
            with open(delta, "r+b") as f:
                f.truncate(committed)
                os.fsync(f.fileno())


def _missing(path: Path) -> StoreError:
    return StoreError(
        f"{path}: committed database file is missing; the checkpoint names it, so the "
        f"storage lost data or the run directory was copied while a run wrote to it; {DAMAGED_FIX}"
    )
