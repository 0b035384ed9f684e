"""Run evaluations on this machine: a thread per concurrent job.

Threads are enough because each thread only waits on a sandbox (a child process
or a container); the CPU work happens outside the controller's interpreter.
"""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor

from sandboxes.job import EvalJob, EvalResult, Sandbox

__all__ = ["LocalExecutor"]


class LocalExecutor:
    """Up to ``max_workers`` jobs at once on a shared sandbox backend."""

    def __init__(self, sandbox: Sandbox, max_workers: int) -> None:
        if max_workers < 1:
            raise ValueError(f"max_workers must be >= 1, got {max_workers}")
        self.sandbox = sandbox
        self.max_workers = max_workers
        self._pool = ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="evolve-eval")

    def capacity(self) -> int:
        return self.max_workers

    def submit(self, job: EvalJob) -> Future[EvalResult]:
        return self._pool.submit(self.sandbox.run, job)

    def shutdown(self) -> None:
        """Stop taking jobs; running ones end at their own deadlines."""
        self._pool.shutdown(wait=False, cancel_futures=True)
        self.sandbox.close()
