"""The review gate: ``[governance] pause_on = "new_best"`` stops proposing until
a human has decided on the run's best program.

For setups that deploy what evolve finds, a new best should not become the
parent of the next hundred children before someone looked at it. With the gate
on, while the database's best (other than the seed, which the user wrote) has
no decision in ``RUN/reviews.jsonl`` (``evolve approve|reject``), the pipeline
starts no proposal: the children already proposed and the evaluations in
flight finish and are recorded, then the run waits, saved, and shows what it
waits for, until the decision comes, a stop (Ctrl-C, ``--max-time``) or the
next limit. The decision is read from the file, so a reviewer in another
terminal (or a notebook) unblocks a live run.
"""

from __future__ import annotations

import logging
from pathlib import Path

from evolve.database import PopulationDatabase
from evolve.errors import StoreError
from evolve.store.reviews import Decision, ReviewLog

__all__ = ["ReviewGate"]

log = logging.getLogger("evolve.run")


class ReviewGate:
    """Whether the run must wait for a review, and for which program."""

    def __init__(self, run_dir: Path, database: PopulationDatabase) -> None:
        self.run_dir = Path(run_dir)
        self.database = database
        self._log = ReviewLog(self.run_dir)
        self._seen: tuple[int, int] | None = None  # the file's (mtime_ns, size) last read
        self._decided: dict[str, Decision] = {}
        self._told: str | None = None

    def awaiting(self) -> str | None:
        """The id of the best program awaiting a decision, or None to go on."""
        best = self.database.best()
        if best is None or best.edit_kind == "seed":
            return None
        if best.id not in self._decisions():
            if self._told != best.id:
                self._told = best.id
                log.warning(
                    "paused: the new best %s awaits a review (evolve review %s; evolve "
                    "approve|reject %s %s --note TEXT); evaluations in flight finish",
                    best.id,
                    self.run_dir,
                    self.run_dir,
                    best.id,
                )
            return best.id
        return None

    def _decisions(self) -> dict[str, Decision]:
        try:
            stat = self._log.path.stat()
        except FileNotFoundError:
            return {}
        seen = (stat.st_mtime_ns, stat.st_size)
        if seen != self._seen:  # read again only when a decision was added
            self._seen = seen
            try:
                self._decided = self._log.latest()
            except StoreError as exc:  # a garbled line: keep waiting, say what to fix
                log.warning("%s; the run stays paused until the file reads", exc)
        return self._decided
