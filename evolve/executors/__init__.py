"""Executors move evaluation jobs to sandboxes and results back; they never see
the database."""

from __future__ import annotations

from concurrent.futures import Future
from typing import Protocol

from evolve.executors.local import LocalExecutor
from sandboxes.job import EvalJob, EvalResult

__all__ = ["Executor", "LocalExecutor"]


class Executor(Protocol):
    """Runs jobs somewhere; every submitted job's future ends with a result."""

    max_workers: int

    def submit(self, job: EvalJob) -> Future[EvalResult]: ...

    def shutdown(self) -> None: ...
