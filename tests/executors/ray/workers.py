"""Worker functions for the Ray tests: count attempts, or die mid-evaluation once.

Shipped to workers by value (cloudpickle), so they need not be importable there.
"""

from __future__ import annotations

import os

from evolve.executors.ray.worker import WorkerReply, WorkerSandbox, evaluate_job
from sandboxes.job import EvalJob

LOG_NAME = "evolve-test-attempts"


def attempt_log():
    """The named actor that counts attempts per program id (created on first use)."""
    import ray

    @ray.remote(num_cpus=0)
    class AttemptLog:
        def __init__(self) -> None:
            self.counts: dict[str, int] = {}
            self.spans: list[tuple[str, float, float]] = []

        def hit(self, key: str) -> int:
            self.counts[key] = self.counts.get(key, 0) + 1
            return self.counts[key]

        def get(self, key: str) -> int:
            return self.counts.get(key, 0)

        def span(self, node: str, start: float, end: float) -> None:
            self.spans.append((node, start, end))

        def get_spans(self) -> list[tuple[str, float, float]]:
            return list(self.spans)

    # On the head, so that removing a worker node never takes the log with it.
    return AttemptLog.options(
        name=LOG_NAME,
        get_if_exists=True,
        lifetime="detached",
        resources={"node:__internal_head__": 0.001},
    ).remote()


def counting(spec: WorkerSandbox, job: EvalJob) -> WorkerReply:
    """Count this attempt, then evaluate as usual."""
    import ray

    ray.get(ray.get_actor(LOG_NAME).hit.remote(job.program_id))
    return evaluate_job(spec, job)


def dies_once(spec: WorkerSandbox, job: EvalJob) -> WorkerReply:
    """The first attempt of each job kills its own worker process mid-evaluation."""
    import ray

    if ray.get(ray.get_actor(LOG_NAME).hit.remote(job.program_id)) == 1:
        os._exit(1)
    return evaluate_job(spec, job)


def raises_once(spec: WorkerSandbox, job: EvalJob) -> WorkerReply:
    """The first attempt fails like a sandbox that cannot start; later ones evaluate."""
    import ray

    if ray.get(ray.get_actor(LOG_NAME).hit.remote(job.program_id)) == 1:
        raise ConnectionError("the Docker daemon did not answer (simulated)")
    return evaluate_job(spec, job)


def always_raises(spec: WorkerSandbox, job: EvalJob) -> WorkerReply:
    """Every attempt fails like a node whose sandbox is broken."""
    import ray

    ray.get(ray.get_actor(LOG_NAME).hit.remote(job.program_id))
    raise ConnectionError("the Docker daemon did not answer (simulated)")


def timed(spec: WorkerSandbox, job: EvalJob) -> WorkerReply:
    """Evaluate, recording (node, start, end) so tests can see concurrency per node."""
    import time

    import ray

    start = time.time()
    reply = evaluate_job(spec, job)
    ray.get(ray.get_actor(LOG_NAME).span.remote(reply[1], start, time.time()))
    return reply


def reports_sandbox_gpus(spec: WorkerSandbox, job: EvalJob) -> WorkerReply:
    """Evaluate, then report the GPU ids this worker built its sandbox with."""
    from dataclasses import replace

    from evolve.executors.ray import worker as ray_worker

    result, node = evaluate_job(spec, job)
    ids = sorted({",".join(gpus) for (_, gpus) in ray_worker._sandboxes})
    return replace(result, artifacts={**result.artifacts, "sandbox_gpu_ids": ";".join(ids)}), node
