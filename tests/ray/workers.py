"""Worker functions for the Ray tests: count attempts, or die mid-evaluation once.

Shipped to workers by value (cloudpickle), so they need not be importable there.
"""

from __future__ import annotations

import os

from evolve.executors.ray_worker import WorkerReply, evaluate_job
from sandboxes.job import EvalJob

LOG_NAME = "evolve-test-attempts"


def attempt_log():
    """The named actor that counts attempts per program id (created on first use)."""
    import ray

    @ray.remote(num_cpus=0)
    class AttemptLog:
        def __init__(self) -> None:
            self.counts: dict[str, int] = {}

        def hit(self, key: str) -> int:
            self.counts[key] = self.counts.get(key, 0) + 1
            return self.counts[key]

        def get(self, key: str) -> int:
            return self.counts.get(key, 0)

    return AttemptLog.options(name=LOG_NAME, get_if_exists=True, lifetime="detached").remote()


def counting(kind: str, image: str | None, job: EvalJob) -> WorkerReply:
    """Count this attempt, then evaluate as usual."""
    import ray

    ray.get(ray.get_actor(LOG_NAME).hit.remote(job.program_id))
    return evaluate_job(kind, image, job)


def dies_once(kind: str, image: str | None, job: EvalJob) -> WorkerReply:
    """The first attempt of each job kills its own worker process mid-evaluation."""
    import ray

    if ray.get(ray.get_actor(LOG_NAME).hit.remote(job.program_id)) == 1:
        os._exit(1)
    return evaluate_job(kind, image, job)
