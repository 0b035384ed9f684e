"""Pinned problems: a run scores with the problem files it began with, or says so.

A run copies its problem folder into ``RUN/problem/`` and every resume scores
from that copy. A scorer edited there half-way (a fix, a tweak, a file replaced
by a sync tool) would mix two objectives in one lineage with nothing to show
for it. So the SHA-256 of every file of the copy is recorded in run.json when
the run is created (``problem_files``), and ``evolve resume`` compares the copy
with it: a changed, added or removed file stops the resume with each file
named, unless the user accepts the change with a reason. An accepted change is
an event (``problem_changed``: the files, their old and new hashes, the reason
and the new pins), which ``evolve show`` lists and later resumes compare with.
A run made before pins existed is pinned at its first resume (``problem_pinned``).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from evolve.errors import StoreError
from evolve.records import EventKind

__all__ = [
    "FileChange",
    "ProblemChanged",
    "changes",
    "pin_files",
    "pinned_files",
    "refusal",
    "review",
]

_CHUNK = 1 << 20


class ProblemChanged(StoreError):
    """The run's problem files are not the ones it pinned."""


@dataclass(frozen=True)
class FileChange:
    path: str  # relative to the problem folder
    old: str | None  # its pinned SHA-256; None: the file is new
    new: str | None  # its SHA-256 now; None: the file was removed

    @property
    def kind(self) -> str:
        return "added" if self.old is None else "removed" if self.new is None else "changed"

    def describe(self, folder: Path) -> str:
        where = folder / self.path
        if self.kind == "added":
            return f"{where}: added since the run began (sha256 {self.new})"
        if self.kind == "removed":
            return f"{where}: removed since the run began (was sha256 {self.old})"
        return f"{where}: changed since the run began (sha256 {self.old} -> {self.new})"

    def to_json(self) -> dict[str, Any]:
        return {"path": self.path, "kind": self.kind, "old": self.old, "new": self.new}


def pin_files(folder: Path) -> dict[str, str]:
    """path (relative, POSIX) -> SHA-256 of every file under ``folder``, the way
    the run copies it (``__pycache__`` and dotfiles left out)."""
    pins: dict[str, str] = {}
    for path in sorted(folder.rglob("*")):
        relative = path.relative_to(folder)
        if any(part == "__pycache__" or part.startswith(".") for part in relative.parts):
            continue
        if path.is_file() and not path.is_symlink():
            digest = hashlib.sha256()
            with path.open("rb") as f:
                while chunk := f.read(_CHUNK):
                    digest.update(chunk)
            pins[relative.as_posix()] = digest.hexdigest()
        elif path.is_symlink():
            pins[relative.as_posix()] = "symlink:" + str(path.readlink())
    return pins


def changes(pinned: Mapping[str, str], now: Mapping[str, str]) -> list[FileChange]:
    """What differs between two pin sets, by path."""
    return [
        FileChange(path, pinned.get(path), now.get(path))
        for path in sorted(set(pinned) | set(now))
        if pinned.get(path) != now.get(path)
    ]


def pinned_files(
    settings: Mapping[str, Any], events: list[dict[str, Any]]
) -> dict[str, str] | None:
    """The pins a resume compares with: run.json's, as the last accepted change
    (or the pinning of an older run) replaced them; None if never pinned."""
    pins = settings.get("problem_files")
    for event in events:
        if event["kind"] in (EventKind.PROBLEM_CHANGED, EventKind.PROBLEM_PINNED):
            payload = event["payload"]
            pins = json.loads(payload)["pins"] if isinstance(payload, str) else payload["pins"]
    return dict(pins) if isinstance(pins, dict) else None


def refusal(folder: Path, found: list[FileChange], run_dir: Path) -> ProblemChanged:
    """The error a resume stops with: each file, and the way to go on."""
    lines = "\n  ".join(change.describe(folder) for change in found)
    return ProblemChanged(
        f"{run_dir}: the problem files changed since the run began, so its results would "
        f"mix two scorers:\n  {lines}\nRestore the files, or go on with them and record why: "
        f"`evolve resume {run_dir} --accept-problem-change --reason TEXT`"
    )


def review(
    folder: Path,
    settings: Mapping[str, Any],
    events: list[dict[str, Any]],
    run_dir: Path,
    accept_reason: str | None,
) -> tuple[EventKind, dict[str, Any]] | None:
    """Compare the run's problem copy with its pins before a resume.

    Returns the event to record (an accepted change, or the first pinning of
    a run made before pins), or None when the files are the pinned ones.
    Raises ``ProblemChanged`` naming each file when they are not and no
    reason was given.
    """
    now = pin_files(folder)
    pinned = pinned_files(settings, events)
    if pinned is None:
        return EventKind.PROBLEM_PINNED, {"pins": now}
    found = changes(pinned, now)
    if not found:
        return None
    if not accept_reason or not accept_reason.strip():
        raise refusal(folder, found, run_dir)
    return EventKind.PROBLEM_CHANGED, {
        "changes": [change.to_json() for change in found],
        "reason": accept_reason.strip(),
        "pins": now,
    }
