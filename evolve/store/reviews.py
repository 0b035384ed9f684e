"""Human decisions on a run's programs: who approved or rejected what, when, why.

Kept in ``RUN/reviews.jsonl``, one JSON object per line, apart from the tables
the run writes: a reviewer approves while the run is live, and two processes
must never write the same table. Each decision is one ``O_APPEND`` write of a
short line (atomic on a local file system) followed by an fsync, so decisions
from several reviewers interleave but never tear. A program's latest decision
is the one that counts; the earlier ones stay as its history.
"""

from __future__ import annotations

import getpass
import json
import os
import socket
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal

from evolve.errors import StoreError

__all__ = ["REVIEWS_FILE", "Decision", "ReviewLog", "reviewer"]

REVIEWS_FILE = "reviews.jsonl"
DecisionKind = Literal["approved", "rejected"]
_KINDS = ("approved", "rejected")


def reviewer() -> str:
    """Who is deciding, when ``--by`` does not say: user@host."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = str(os.getuid())
    return f"{user}@{socket.gethostname()}"


@dataclass(frozen=True)
class Decision:
    program_id: str
    decision: DecisionKind
    by: str
    note: str
    time: float


class ReviewLog:
    """The decisions of one run directory."""

    def __init__(self, root: Path) -> None:
        self.path = Path(root) / REVIEWS_FILE

    def append(self, decision: Decision) -> None:
        line = json.dumps(asdict(decision), ensure_ascii=False) + "\n"
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, line.encode("utf-8"))
            os.fsync(fd)
        finally:
            os.close(fd)

    def read(self) -> list[Decision]:
        """Every decision, oldest first. A line that is not one (edited by hand,
        a disk that lost it) stops with the file and line named."""
        if not self.path.is_file():
            return []
        decisions = []
        with self.path.open(encoding="utf-8") as f:
            for number, line in enumerate(f, 1):
                if not line.strip():
                    continue
                try:
                    raw = json.loads(line)
                    decision = Decision(
                        program_id=str(raw["program_id"]),
                        decision=raw["decision"],
                        by=str(raw["by"]),
                        note=str(raw["note"]),
                        time=float(raw["time"]),
                    )
                    if decision.decision not in _KINDS:
                        raise ValueError(f"decision {decision.decision!r}")
                except (ValueError, KeyError, TypeError) as exc:
                    raise StoreError(
                        f"{self.path}:{number}: not a review decision ({exc}); fix or delete "
                        "that line (each line is one decision: program_id, decision, by, "
                        "note, time)"
                    ) from exc
                decisions.append(decision)
        return decisions

    def latest(self) -> dict[str, Decision]:
        """Each decided program's latest decision."""
        return {d.program_id: d for d in self.read()}


def new_decision(program_id: str, decision: DecisionKind, note: str, by: str | None) -> Decision:
    return Decision(program_id, decision, by or reviewer(), note, time.time())
