"""System failures are retried, candidate failures never; slots cap sandboxes per node;
Docker containers of killed workers do not outlive the run."""

from __future__ import annotations

import time
import uuid
from dataclasses import replace

import pytest
import ray

import tests.executors.ray.workers as workers
from evolve.executors.ray.executor import _SYSTEM_RETRIES, RayExecutor
from sandboxes.factory import SandboxConfig
from sandboxes.job import EvalJob, Status
from tests.executors.ray.conftest import CPU_NODE_RESOURCES, GPU_NODE_RESOURCES, SimCluster
from tests.sandboxes.jobs import CALLING_SCORER, make_job

ray.cloudpickle.register_pickle_by_value(workers)

SLEEPY = """
import time
from evaluators import call_candidate

def evaluate(program_path):
    time.sleep(0.4)
    return {"score": float(call_candidate(program_path, "solve", timeout_s=10))}
"""


def job(
    name: str, code: str = "def solve():\n    return 2.0\n", scorer: str = CALLING_SCORER, **kw
):
    return replace(make_job(code, scorer, **kw), program_id=name)


def max_overlap(spans: list[tuple[float, float]]) -> int:
    """The most intervals open at one instant."""
    edges = sorted([(s, 1) for s, _ in spans] + [(e, -1) for _, e in spans])
    best = open_now = 0
    for _, step in edges:
        open_now += step
        best = max(best, open_now)
    return best


def test_slots_cap_concurrent_sandboxes_per_node(sim_cluster: SimCluster) -> None:
    log = workers.attempt_log()
    before = len(ray.get(log.get_spans.remote()))
    # Half a CPU each: the CPUs alone would allow 4 at once per node.
    executor = RayExecutor(SandboxConfig("process"), max_workers=8, worker=workers.timed)
    try:
        futures = [executor.submit(job(f"slot-{i}", scorer=SLEEPY, cpus=0.5)) for i in range(12)]
        results = [f.result(timeout=120) for f in futures]
    finally:
        executor.shutdown()
    assert all(r.status == Status.OK for r in results), [r.reason for r in results]
    spans = ray.get(log.get_spans.remote())[before:]
    assert len(spans) == 12
    by_node: dict[str, list[tuple[float, float]]] = {}
    for node, start, end in spans:
        by_node.setdefault(node, []).append((start, end))
    caps = {
        sim_cluster.gpu_node.node_id: GPU_NODE_RESOURCES["evolve_slots"],
        sim_cluster.cpu_node.node_id: CPU_NODE_RESOURCES["evolve_slots"],
    }
    assert set(by_node) <= set(caps)
    for node, node_spans in by_node.items():
        assert max_overlap(node_spans) <= caps[node]


def test_a_sandbox_failure_is_retried(sim_cluster: SimCluster) -> None:
    log = workers.attempt_log()
    executor = RayExecutor(SandboxConfig("process"), max_workers=1, worker=workers.raises_once)
    try:
        result = executor.submit(job("raises-once")).result(timeout=120)
    finally:
        executor.shutdown()
    assert result.status == Status.OK and result.metrics == {"score": 2.0}
    assert ray.get(log.get.remote("raises-once")) == 2


def test_a_job_failing_every_attempt_is_an_error_naming_the_cluster(
    sim_cluster: SimCluster,
) -> None:
    log = workers.attempt_log()
    executor = RayExecutor(SandboxConfig("process"), max_workers=1, worker=workers.always_raises)
    try:
        result = executor.submit(job("always-raises")).result(timeout=120)
    finally:
        executor.shutdown()
    assert result.status == Status.ERROR
    assert "cluster could not run" in result.reason and "ConnectionError" in result.reason
    assert ray.get(log.get.remote("always-raises")) == 1 + _SYSTEM_RETRIES


def _run_containers(client, run_label: str) -> list:
    from sandboxes.docker.reaper import LABEL, RUN_LABEL

    filters = {"label": [f"{LABEL}=1", f"{RUN_LABEL}={run_label}"]}
    return client.containers.list(all=True, filters=filters)


@pytest.mark.slow
def test_cancelled_docker_jobs_leave_no_orphaned_containers(sim_cluster: SimCluster) -> None:
    from sandboxes.docker.image import docker_client
    from sandboxes.docker.reaper import OWNER_LABEL, _owner_alive

    client = docker_client()
    label = f"ray-cancel-{uuid.uuid4().hex[:8]}"
    hang: EvalJob = job("hang", "def solve():\n    while True:\n        pass\n", timeout_s=120)
    executor = RayExecutor(SandboxConfig("docker"), max_workers=2, run_label=label)
    try:
        futures = [executor.submit(replace(hang, program_id=f"hang-{i}")) for i in range(2)]
        deadline = time.monotonic() + 120
        while len(_run_containers(client, label)) < 2 and time.monotonic() < deadline:
            time.sleep(0.5)
        started = _run_containers(client, label)
        assert len(started) == 2, "both hanging jobs should be running in containers"
        time.sleep(2)  # the candidates are spinning inside them
    finally:
        executor.shutdown()  # cancels both: their workers are killed mid-evaluation
    assert all(f.cancelled() for f in futures)
    left = _run_containers(client, label)
    orphans = [c.id for c in left if not _owner_alive(c.labels.get(OWNER_LABEL, ""))]
    assert not orphans
    assert not {c.id for c in started} & {c.id for c in left}
