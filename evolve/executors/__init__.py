"""Executors move evaluation jobs to sandboxes and results back: ``local``
(a thread per job on this machine) and ``ray/`` (Ray tasks across a cluster).

They never open the database or the store, and never see an LLM: a job
carries the child's code, the problem's files and the limits, and only the
result comes back. May import ``sandboxes`` only.
"""

from __future__ import annotations

from concurrent.futures import Future
from typing import Protocol

from evolve.executors.local import LocalExecutor
from sandboxes.job import EvalJob, EvalResult

__all__ = ["Executor", "LocalExecutor"]


class Executor(Protocol):
    """Runs jobs somewhere; every submitted job's future ends with a result."""

    max_workers: int

    def capacity(self) -> int:
        """How many jobs can run at once now (the pipeline's K when the run
        names none); a cluster's may change as nodes join and leave."""
        ...

    def submit(self, job: EvalJob) -> Future[EvalResult]: ...

    def shutdown(self) -> None: ...
