"""What runs on a Ray worker: score one job in a warm sandbox kept by the worker process.

Ray reuses worker processes for tasks of the same function, so a module-level
cache gives each worker one warm sandbox (a fork server, or a Docker client and
its container pool) without the pinning of an actor: a task can still run on
any node that has the resources, and a task whose node dies is simply retried
elsewhere by Ray. The sandbox is built here, on the worker, from its kind name
(``sandboxes.factory.make_sandbox``), so nothing but the job crosses the wire. Containers a killed
worker leaves behind are removed by the next Docker sandbox started on that node
(its reaper finds them by label: their owner process is gone).

Imported by Ray on every worker, so it imports the sandboxes only: never the
engine, the database or the store.
"""

from __future__ import annotations

import atexit
import threading
from dataclasses import dataclass

from sandboxes.factory import SandboxConfig, make_sandbox
from sandboxes.job import EvalJob, EvalResult, Sandbox

__all__ = ["WorkerReply", "WorkerSandbox", "evaluate_job"]


@dataclass(frozen=True)
class WorkerSandbox:
    """What a worker builds its sandbox from: the run's ``[sandbox]`` config and
    the run label its containers carry."""

    config: SandboxConfig
    run_label: str = ""


_lock = threading.Lock()
_sandboxes: dict[tuple[WorkerSandbox, tuple[str, ...]], Sandbox] = {}


def _close_all() -> None:
    for box in list(_sandboxes.values()):
        box.close()
    _sandboxes.clear()


atexit.register(_close_all)


def _sandbox(spec: WorkerSandbox, gpu_ids: tuple[str, ...]) -> Sandbox:
    """This worker's warm sandbox for ``spec`` (one per set of GPU ids Ray handed it)."""
    key = (spec, gpu_ids)
    with _lock:
        box = _sandboxes.get(key)
        if box is None:
            box = make_sandbox(
                spec.config,
                concurrency=1,
                run_label=spec.run_label,
                gpu_ids=list(gpu_ids) or None,
            )
            _sandboxes[key] = box
        return box


WorkerReply = tuple[EvalResult, str]  # the result, and the id of the node that ran it


def evaluate_job(spec: WorkerSandbox, job: EvalJob) -> WorkerReply:
    """Score ``job`` on this worker; the node id comes back for scheduling checks."""
    import ray

    context = ray.get_runtime_context()
    gpu_ids = tuple(str(g) for g in ray.get_gpu_ids()) if job.limits.resources.gpus else ()
    result = _sandbox(spec, gpu_ids).run(job)
    return result, context.get_node_id()
