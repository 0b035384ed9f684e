"""Run evaluations as Ray tasks across a cluster, steady state, surviving lost nodes.

The controller (database, LLM calls, run store) stays in the driver; a worker
gets only the job (code, problem files, limits) and returns only the result.
Each job is a Ray task with the resources problem.toml asks for
(``resources.cpus`` -> ``num_cpus``, ``gpus`` -> ``num_gpus``, ``memory_mb`` ->
``memory``) plus one unit of the ``evolve_slots`` custom resource when the
cluster defines it (``ray start --resources '{"evolve_slots": 4}'`` caps
concurrent sandboxes per node).

Results are collected with ``ray.wait`` in completion order by one waiter
thread that resolves the futures the controller awaits; nothing waits in
submission order.

Faults: ``max_retries`` re-runs a task whose worker process or node died, or
whose sandbox raised (a sandbox returns a result for everything the candidate
or scorer does, so an exception is a system failure: a Docker daemon that does
not answer, a sandbox that cannot start). A candidate's crash, timeout or OOM is
an ordinary result, never an exception, so it is never retried. A retried job
delivers one result, so the run counts each evaluation once; a job that fails
every attempt is recorded as an ``error`` naming the cluster, not the candidate.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
from collections import Counter
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

from evolve.executors.ray.capacity import ClusterCapacity
from evolve.executors.ray.reaper import reap_on_every_node
from evolve.executors.ray.worker import WorkerReply, WorkerSandbox, evaluate_job
from sandboxes.docker.image import docker_client
from sandboxes.docker.reaper import reap_orphans
from sandboxes.envelope import error_result
from sandboxes.factory import SandboxConfig
from sandboxes.job import EvalJob, EvalResult, Resources

__all__ = ["SLOT_RESOURCE", "RayExecutor", "connect"]

log = logging.getLogger(__name__)

SLOT_RESOURCE = "evolve_slots"
_SYSTEM_RETRIES = 5


def connect(address: str | None, num_cpus: int | None = None) -> bool:
    """Join the cluster at ``address`` (``auto`` or ``HOST:PORT``; else ``RAY_ADDRESS``,
    which ``ray job submit`` sets for its entrypoint), or start a local Ray instance
    with ``num_cpus`` and no dashboard. True if this call started Ray."""
    import ray

    if ray.is_initialized():
        return False
    address = address or os.environ.get("RAY_ADDRESS")
    if address:
        ray.init(address=address, log_to_driver=False)
        return False
    ray.init(num_cpus=num_cpus, include_dashboard=False, log_to_driver=False)
    return True


class RayExecutor:
    """Up to ``max_workers`` jobs in flight on Ray; each worker builds the sandbox
    ``sandbox`` names (``run_label`` as for :func:`sandboxes.factory.make_sandbox`).

    ``capacity()`` is ``max_workers`` when given; with ``max_workers=None`` it
    follows the cluster: how many jobs of ``resources`` its alive nodes hold
    (``evolve.executors.ray.capacity``).

    ``worker`` is the function Ray runs per job (default
    :func:`~evolve.executors.ray.worker.evaluate_job`); tests wrap it to count
    attempts or to kill a worker mid-evaluation.
    """

    def __init__(
        self,
        sandbox: SandboxConfig,
        max_workers: int | None,
        owns_ray: bool = False,
        worker: Callable[[WorkerSandbox, EvalJob], WorkerReply] = evaluate_job,
        run_label: str = "",
        resources: Resources | None = None,
    ) -> None:
        import ray

        if max_workers is not None and max_workers < 1:
            raise ValueError(f"max_workers must be >= 1, got {max_workers}")
        if not ray.is_initialized():
            raise RuntimeError(
                "RayExecutor needs ray.init() first (see evolve.executors.ray.executor.connect)"
            )
        self.sandbox = sandbox
        self.spec = WorkerSandbox(sandbox, run_label)
        self._cluster = ClusterCapacity(
            ray.cluster_resources, resources or Resources(), SLOT_RESOURCE
        )
        self.max_workers = max_workers if max_workers is not None else self._cluster()
        self._fixed = max_workers is not None
        self.nodes: Counter[str] = Counter()  # node id -> evaluations it returned
        self._owns_ray = owns_ray
        # max_calls=0 (never retire a worker), said outright: a worker and its warm
        # sandbox serve job after job, GPU jobs included (Ray retires a GPU task's
        # worker after one call when the GPUs are declared on the function).
        self._remote = ray.remote(max_calls=0)(worker)
        self._slots = SLOT_RESOURCE in ray.cluster_resources()
        self._lock = threading.Lock()
        self._pending: dict[Any, Future[EvalResult]] = {}
        self._wake = threading.Event()
        self._closed = False
        self._waiter = threading.Thread(target=self._wait_loop, name="evolve-ray-wait", daemon=True)
        self._waiter.start()

    def options(self, job: EvalJob) -> dict[str, Any]:
        """The Ray task options for ``job``: its resources and the retry policy."""
        limits = job.limits
        options: dict[str, Any] = {
            "num_cpus": limits.resources.cpus,
            "num_gpus": limits.resources.gpus,
            "memory": int(limits.resources.memory_mb) << 20,
            "max_retries": _SYSTEM_RETRIES,
            "retry_exceptions": True,  # only the sandbox's own failures raise
        }
        if self._slots:
            options["resources"] = {SLOT_RESOURCE: 1}
        return options

    def capacity(self) -> int:
        if self._fixed:
            return self.max_workers
        self.max_workers = self._cluster()
        return self.max_workers

    def submit(self, job: EvalJob) -> Future[EvalResult]:
        future: Future[EvalResult] = Future()
        if self._closed:
            future.set_exception(RuntimeError("the Ray executor is shut down"))
            return future
        ref = self._remote.options(**self.options(job)).remote(self.spec, job)
        with self._lock:
            self._pending[ref] = future
        self._wake.set()
        return future

    def _shutting_down(self) -> bool:
        return self._closed  # set by shutdown() on another thread

    def _wait_loop(self) -> None:
        import ray

        while not self._closed:
            with self._lock:
                refs = list(self._pending)
            if not refs:
                self._wake.wait(0.5)
                self._wake.clear()
                continue
            try:
                ready, _ = ray.wait(refs, num_returns=1, timeout=0.05, fetch_local=True)
            except Exception:  # Ray is shutting down, or broke under us
                if self._shutting_down():
                    return
                raise
            for ref in ready:
                with self._lock:
                    future = self._pending.pop(ref, None)
                if future is not None:  # None: shutdown took it meanwhile
                    self._resolve(ref, future)

    def _resolve(self, ref: Any, future: Future[EvalResult]) -> None:
        import ray

        try:
            result, node = ray.get(ref)
        except Exception as exc:  # retries used up: a system failure, not the candidate's
            log.warning("ray evaluation failed after %d retries: %s", _SYSTEM_RETRIES, exc)
            reason = f"the cluster could not run this evaluation ({type(exc).__name__}: {exc})"
            future.set_result(error_result(reason))
            return
        with self._lock:
            self.nodes[node] += 1
        future.set_result(result)

    def shutdown(self) -> None:
        """Stop taking jobs, cancel those in flight, and stop Ray if we started it.

        A cancelled task's worker is killed and cannot close its sandbox, so with
        Docker every node is swept for the containers it left.
        """
        import ray

        self._closed = True
        self._wake.set()
        with self._lock:
            pending, self._pending = self._pending, {}
        for ref, future in pending.items():
            with contextlib.suppress(Exception):
                ray.cancel(ref, force=True)
            future.cancel()
        self._waiter.join(timeout=5)
        if pending and self.sandbox.kind == "docker":
            with contextlib.suppress(Exception):
                ray.wait(list(pending), num_returns=len(pending), timeout=10)  # workers gone
                reap_on_every_node()
        if self._owns_ray:
            ray.shutdown()
            if self.sandbox.kind == "docker":  # our workers are gone: remove what they left
                with contextlib.suppress(Exception):
                    reap_orphans(docker_client())
