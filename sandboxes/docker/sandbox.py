"""DockerSandbox: every candidate in a hardened container, through a warm pool.

Why a pool of resident servers rather than ``docker run``/``docker exec`` per
job: a hardened cold start costs ~340 ms and an exec ~76 ms of Docker's own
time, while a job handed to a server already running in the container costs
what a fork costs (see benchmarks/sandbox.py). Each pooled container runs one
job at a time, as its own unprivileged uid, and is replaced after a fault
(its server died or missed the outer deadline), after an OOM kill in its
cgroup, after ``max_uses`` jobs, or when a job needs different container
settings (memory, CPUs, GPUs). ``cold=True`` makes every job use a fresh
container (``max_uses=1``): slower, for comparison and for the paranoid.

The two layers of limits: inside, the supervisor gives each candidate its own
rlimits, deadline and uid and kills every process of that uid afterwards (the
server wipes its files); outside, the container's cgroup bounds memory (no
swap), CPU and processes, and it has no network, a read-only root and no
capabilities but the three the server needs to drop privileges and kill.
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
import time
import weakref
from collections.abc import Sequence
from dataclasses import asdict
from typing import Any

from evaluators import contract
from sandboxes._files import unsafe_names
from sandboxes._forkserver import ForkServer
from sandboxes._uids import UidLease, UidPool
from sandboxes._workdirs import sweep_orphans
from sandboxes.docker import reaper
from sandboxes.docker.container import (
    WORKDIR_PREFIX,
    ContainerError,
    ContainerSettings,
    WarmContainer,
)
from sandboxes.docker.gpu import assigned_gpu_ids
from sandboxes.docker.image import docker_client, resolve_image
from sandboxes.docker.layers import CONTAINER_PYTHONPATH, packages_image
from sandboxes.envelope import error_result, parse_envelope
from sandboxes.job import EvalJob, EvalResult, Guarantees, Probes, Status

__all__ = ["DockerSandbox"]

log = logging.getLogger(__name__)

_GRACE_S = 10.0
_FAULTS = (Status.TIMEOUT, Status.OOM)


class DockerSandbox:
    """Runs jobs in hardened containers from a warm pool; thread-safe.

    ``image``: a tag on this machine (default: the current evolve sandbox
    image, built if missing); ``requirements``: the problem's scorer packages,
    installed in a layer over it (:mod:`sandboxes.docker.layers`).
    ``max_containers``: pool size (jobs beyond it wait). ``gpu_ids``: the
    devices this worker was given (under Ray, ``ray.get_gpu_ids()``); jobs that
    ask for GPUs get that many of them.
    """

    name = "docker"

    def __init__(
        self,
        image: str | None = None,
        max_containers: int = 4,
        max_uses: int = 200,
        cold: bool = False,
        run_label: str = "",
        gpu_ids: list[str] | None = None,
        client: Any = None,
        grace_s: float = _GRACE_S,
        requirements: Sequence[str] = (),
    ) -> None:
        self._client = client or docker_client()
        reaper.reap_orphans(self._client)
        sweep_orphans(WORKDIR_PREFIX)  # job files of sandboxes killed with SIGKILL
        base = resolve_image(image or "evolve-sandbox:latest", self._client)
        # the problem's scorer packages, as a layer over it (sandboxes.docker.layers)
        self.image = packages_image(self._client, base, requirements)
        self.max_containers = max(1, max_containers)
        self.max_uses = 1 if cold else max(1, max_uses)
        self.cold = cold
        self._run_label = run_label
        self._grace_s = grace_s
        self._gpu_ids = None if gpu_ids is None else [str(g) for g in gpu_ids]
        self._uids = UidPool(61000, 256)
        self._cond = threading.Condition()
        self._idle: list[WarmContainer] = []
        self._all: set[WarmContainer] = set()
        self._leases: dict[WarmContainer, tuple[UidLease, UidLease]] = {}
        self._slots = 0
        self._closed = False
        self._finalizer = weakref.finalize(self, _shutdown, self._all, self._client)

    # -- capabilities -----------------------------------------------------------------

    def guarantees(self) -> Guarantees:
        """Everything is enforced in a container (network, filesystem, uid, pids, tree)."""
        return Guarantees(
            separate_uid=True,
            no_network=True,
            private_filesystem=True,
            process_limit=True,
            tree_kill=True,
            syscall_filter=True,
            hidden_scorer_files=True,
            private_processes=True,
            cpu_share=True,
        )

    # -- the pool ---------------------------------------------------------------------

    def _settings(self, job: EvalJob) -> ContainerSettings:
        ids = tuple(assigned_gpu_ids(job.limits.resources.gpus, self._gpu_ids))
        return ContainerSettings.for_limits(self.image, job.limits, ids)

    def _acquire(self, settings: ContainerSettings, job: EvalJob) -> WarmContainer:
        with self._cond:
            while True:
                if self._closed:
                    raise ContainerError("the docker sandbox is closed")
                for i, container in enumerate(self._idle):
                    if container.settings == settings:
                        return self._idle.pop(i)
                if self._slots < self.max_containers:
                    self._slots += 1
                    break
                if self._idle:  # a container with other settings: make room
                    stale = self._idle.pop(0)
                    self._forget(stale)
                    self._slots += 1
                    break
                self._cond.wait()
        try:
            return self._start(settings, job)
        except BaseException:
            with self._cond:
                self._slots -= 1
                self._cond.notify()
            raise

    def _start(self, settings: ContainerSettings, job: EvalJob) -> WarmContainer:
        # Two uids per container: the scorer's (owner of the scorer-only files)
        # and the candidate's, which cannot read them.
        lease = self._uids.acquire()
        try:
            candidate = self._uids.acquire()
        except BaseException:
            self._uids.release(lease, clean=True)
            raise
        slot = lease.uid - 61000
        job_label = job.program_id if self.cold else "warm-pool"
        labels = reaper.labels_for(self._run_label, slot, job_label)
        try:
            container = WarmContainer(self._client, settings, labels, lease.uid, candidate.uid)
        except BaseException:
            self._uids.release(lease, clean=True)
            self._uids.release(candidate, clean=True)
            raise
        with self._cond:
            self._all.add(container)
            self._leases[container] = (lease, candidate)
        return container

    def _forget(self, container: WarmContainer) -> None:
        """Destroy a container (caller holds the lock) and free its uid and slot."""
        self._slots -= 1
        self._all.discard(container)
        leases = self._leases.pop(container, ())
        container.destroy()
        for lease in leases:
            self._uids.release(lease, clean=True)
        self._cond.notify()

    def _release(self, container: WarmContainer, healthy: bool) -> None:
        with self._cond:
            if healthy and not self._closed and container.uses < self.max_uses:
                self._idle.append(container)
                self._cond.notify()
            else:
                self._forget(container)

    def warm(self, count: int, limits: Any = None) -> None:
        """Start ``count`` containers now (for jobs with ``limits``), so no job waits for one."""
        job = EvalJob("warm-up", "", {}, limits=limits) if limits else EvalJob("warm-up", "", {})
        settings = self._settings(job)
        started = [self._acquire(settings, job) for _ in range(min(count, self.max_containers))]
        for container in started:
            self._release(container, healthy=True)

    # -- running a job ----------------------------------------------------------------

    def run(self, job: EvalJob) -> EvalResult:
        """Score ``job``; never raises for anything the candidate or scorer does."""
        if self._closed:
            return error_result("the docker sandbox is closed")
        problem = unsafe_names(job.program_name, job.scorer, job.files)
        if problem is not None:
            return error_result(problem)
        try:
            settings = self._settings(job)
        except Exception as exc:
            return error_result(str(exc))
        for attempt in range(2):
            try:
                container = self._acquire(settings, job)
            except Exception as exc:
                log.exception("docker sandbox could not start a container for %s", job.program_id)
                return error_result(f"the docker sandbox could not start a container: {exc}")
            healthy = False
            try:
                result, healthy = self._run_in(container, job)
                return result
            except ContainerError as exc:
                # The job never reached a server (it had died idle): try a fresh container once.
                if attempt:
                    return error_result(f"the docker sandbox failed: {exc}")
            except Exception as exc:
                log.exception("docker sandbox failed on %s", job.program_id)
                return error_result(f"the docker sandbox failed: {type(exc).__name__}: {exc}")
            finally:
                self._release(container, healthy)
        raise AssertionError("unreachable")

    def _spec(self, container: WarmContainer, name: str, job: EvalJob) -> dict[str, Any]:
        limits = job.limits
        scratch = f"/scratch/{name}"
        work = f"/job/{name}/work"
        threads = str(max(1, int(limits.resources.cpus)))
        env = {
            "PATH": "/usr/local/bin:/usr/bin:/bin",
            "LANG": "C.UTF-8",
            "HOME": scratch,
            "TMPDIR": scratch,
            "PYTHONPATH": CONTAINER_PYTHONPATH,
            "PYTHONDONTWRITEBYTECODE": "1",
            "PYTHONNOUSERSITE": "1",
            **{f"{n}_NUM_THREADS": threads for n in ("OMP", "OPENBLAS", "MKL", "NUMEXPR")},
        }
        if not limits.resources.gpus:
            env["CUDA_VISIBLE_DEVICES"] = ""
        return {
            "job_dir": f"/job/{name}",
            "scratch_dir": scratch,
            "visible": ["/opt/evolve"],
            "uid": container.uid,
            "candidate_uid": container.candidate_uid,
            "require": ["processes", "uid", "syscalls", "hidden_files"],
            "limits": asdict(limits),
            "env": env,
            "harness": job.harness_spec(work, limits.resources.memory_mb),
        }

    def _run_in(self, container: WarmContainer, job: EvalJob) -> tuple[EvalResult, bool]:
        """(result, container still fit for another job)."""
        files = {**job.files, job.program_name: job.code.encode("utf-8")}
        name = container.prepare(files, visible={*job.visible, job.program_name})
        oom_before = container.oom_kills()
        outer = job.limits.timeout_s * 1.5 + self._grace_s
        started = time.monotonic()
        try:
            sock = container.submit(json.dumps(self._spec(container, name, job)).encode())
            reply = ForkServer.read_reply(sock, outer, contract.MAX_ENVELOPE_BYTES)
        finally:
            container.cleanup(name)
        wall = time.monotonic() - started
        oom_killed = container.oom_kills() > oom_before
        if reply.timed_out:
            reason = f"the sandbox container did not answer within {outer:g} s and was removed"
            probes = Probes.limit_hit(f"time limit: the container did not answer in {outer:g} s")
            return EvalResult(Status.TIMEOUT, reason=reason, wall_time_s=wall, probes=probes), False
        if reply.overflow:
            return error_result("the sandbox container sent an oversized reply", wall), False
        if reply.pid is None or not reply.data:
            if oom_killed:
                return self._oom(job, wall), False
            alive = "" if container.alive() else " (the container had stopped)"
            return error_result(f"the sandbox server died without a result{alive}", wall), False
        result = parse_envelope(reply.data)
        if oom_killed and result.status != Status.OK:
            return self._oom(job, wall, result), False
        return result, result.status not in _FAULTS

    @staticmethod
    def _oom(job: EvalJob, wall: float, result: EvalResult | None = None) -> EvalResult:
        reason = (
            f"the evaluation was killed by the container's out-of-memory killer (memory limit "
            f"{job.limits.resources.memory_mb} MB for the job)"
        )
        artifacts = result.artifacts if result is not None else {}
        line = f"memory limit: {job.limits.resources.memory_mb} MB (the container's OOM killer)"
        probes = Probes.limit_hit(line, result.probes if result is not None else None)
        return EvalResult(
            Status.OOM, artifacts=artifacts, reason=reason, wall_time_s=wall, probes=probes
        )

    def close(self) -> None:
        """Remove every container of this sandbox (also done at interpreter exit)."""
        with self._cond:
            self._closed = True
            self._idle.clear()
            self._cond.notify_all()
        self._finalizer()
        for leases in self._leases.values():
            for lease in leases:
                with contextlib.suppress(Exception):
                    self._uids.release(lease, clean=True)
        self._leases.clear()


def _shutdown(containers: set[WarmContainer], client: Any) -> None:
    for container in list(containers):
        container.destroy()
    containers.clear()
    with contextlib.suppress(Exception):
        reaper.remove_owned(client)
