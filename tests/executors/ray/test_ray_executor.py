"""RayExecutor on a simulated three-node cluster: placement, faults, exact counts."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import ray

import tests.executors.ray.workers as workers
from evolve.engine.controller import RunLimits
from evolve.engine.runner import RunOptions, start_run
from evolve.executors.ray.executor import RayExecutor
from sandboxes.factory import SandboxConfig
from sandboxes.job import Status
from tests.executors.ray.conftest import CPU_NODE_RESOURCES, SimCluster
from tests.executors.ray.problems import sleepy_problem
from tests.sandboxes.jobs import CALLING_SCORER, make_job

ray.cloudpickle.register_pickle_by_value(workers)

GPU_SCORER = """
import os
from evaluators import call_candidate

def evaluate(program_path):
    call_candidate(program_path, "solve", timeout_s=10)
    return {"score": 1.0, "gpu": float(os.environ.get("CUDA_VISIBLE_DEVICES") or -1)}
"""


def job(code: str = "def solve():\n    return 2.0\n", scorer: str = CALLING_SCORER, **kw):
    return make_job(code, scorer, **kw)


def named(j, name: str):
    from dataclasses import replace

    return replace(j, program_id=name)


def test_jobs_complete_on_the_worker_nodes(sim_cluster: SimCluster) -> None:
    executor = RayExecutor(SandboxConfig("process"), max_workers=4)
    try:
        # Placement is the point, not speed: the first jobs also start each
        # worker's sandbox, so the job's limit leaves room for a loaded machine.
        futures = [executor.submit(job(timeout_s=60)) for _ in range(8)]
        results = [f.result(timeout=180) for f in futures]
    finally:
        executor.shutdown()
    assert all(r.status == Status.OK and r.metrics == {"score": 2.0} for r in results), [
        (r.status, r.reason, r.metrics) for r in results
    ]
    assert sum(executor.nodes.values()) == 8
    assert set(executor.nodes) <= {sim_cluster.gpu_node.node_id, sim_cluster.cpu_node.node_id}


def test_gpu_jobs_land_only_on_the_gpu_node_with_its_device_ids(sim_cluster: SimCluster) -> None:
    executor = RayExecutor(SandboxConfig("process"), max_workers=2)
    try:
        futures = [executor.submit(job(scorer=GPU_SCORER, gpus=1)) for _ in range(4)]
        results = [f.result(timeout=120) for f in futures]
    finally:
        executor.shutdown()
    assert all(r.status == Status.OK for r in results), [r.reason for r in results]
    assert set(executor.nodes) == {sim_cluster.gpu_node.node_id}
    assert {r.metrics["gpu"] for r in results} == {0.0}  # the id Ray assigned, handed down


def test_the_worker_builds_its_sandbox_with_the_assigned_gpu_ids(sim_cluster: SimCluster) -> None:
    executor = RayExecutor(
        SandboxConfig("process"), max_workers=1, worker=workers.reports_sandbox_gpus
    )
    try:
        result = executor.submit(job(gpus=1)).result(timeout=120)
    finally:
        executor.shutdown()
    assert result.status == Status.OK, result.reason
    assert "0" in result.artifacts["sandbox_gpu_ids"].split(";")  # the fake GPU's id


def test_job_options_carry_the_problem_resources(sim_cluster: SimCluster) -> None:
    executor = RayExecutor(SandboxConfig("process"), max_workers=1)
    try:
        options = executor.options(job(cpus=0.5, gpus=1, memory_mb=300))
    finally:
        executor.shutdown()
    assert options["num_cpus"] == 0.5
    assert options["num_gpus"] == 1
    assert options["memory"] == 300 << 20
    assert options["max_retries"] > 0


def test_a_candidate_failure_is_a_result_and_not_retried(sim_cluster: SimCluster) -> None:
    log = workers.attempt_log()
    executor = RayExecutor(SandboxConfig("process"), max_workers=3, worker=workers.counting)
    crash = named(job("import os\ndef solve():\n    os._exit(3)\n"), "crash-once")
    hang = named(job("def solve():\n    while True:\n        pass\n", timeout_s=1), "hang-once")
    oom = named(
        job("def solve():\n    return len(bytearray(10 * 1024**3))\n", memory_mb=256), "oom-once"
    )
    try:
        results = [executor.submit(j).result(timeout=120) for j in (crash, hang, oom)]
    finally:
        executor.shutdown()
    assert [r.status for r in results] == [Status.ERROR, Status.TIMEOUT, Status.OOM]
    for name in ("crash-once", "hang-once", "oom-once"):
        assert ray.get(log.get.remote(name)) == 1


def test_a_worker_process_dying_mid_evaluation_is_rerun(sim_cluster: SimCluster) -> None:
    log = workers.attempt_log()
    executor = RayExecutor(SandboxConfig("process"), max_workers=2, worker=workers.dies_once)
    try:
        result = executor.submit(named(job(), "dies-once")).result(timeout=180)
    finally:
        executor.shutdown()
    assert result.status == Status.OK and result.metrics == {"score": 2.0}
    assert ray.get(log.get.remote("dies-once")) == 2


def _programs(run_dir: Path) -> list[dict]:
    return pq.read_table(run_dir / "programs").to_pylist()


@pytest.mark.slow
def test_a_run_survives_losing_a_node_with_exact_counts(
    sim_cluster: SimCluster, tmp_path: Path
) -> None:
    problem = sleepy_problem(tmp_path / "problem")
    out = tmp_path / "run"
    seen: list[int] = []
    removed = threading.Event()

    def on_progress(progress) -> None:
        seen.append(progress.evaluations)

    def remove_worker_midway() -> None:
        while not seen or seen[-1] < 8:
            time.sleep(0.05)
        sim_cluster.cluster.remove_node(sim_cluster.cpu_node)
        removed.set()

    remover = threading.Thread(target=remove_worker_midway, daemon=True)
    remover.start()
    options = RunOptions(seed=3, executor="ray", ray_address=sim_cluster.cluster.address)
    try:
        outcome = start_run(
            problem, out, options, RunLimits(evaluations=40, concurrency=4), on_progress
        )
    finally:
        remover.join(timeout=60)
        # Give later tests their second worker back.
        sim_cluster.cpu_node = sim_cluster.cluster.add_node(
            num_cpus=2, resources=CPU_NODE_RESOURCES
        )
        sim_cluster.cluster.wait_for_nodes()
    assert removed.is_set()
    assert outcome.progress.stop_reason == "iterations"
    rows = _programs(out)
    ids = [r["id"] for r in rows]
    assert len(ids) == len(set(ids))
    children = [r for r in rows if r["iteration"] and r["iteration"] > 0]
    evaluated = [r for r in children if not r["duplicate_of"]]
    assert len(evaluated) == 40
    iterations = [r["iteration"] for r in children]
    assert len(iterations) == len(set(iterations))
    known = set(ids)
    assert all(set(r["parent_ids"]) <= known for r in rows)


def test_docker_sandboxes_on_ray_workers(sim_cluster: SimCluster) -> None:
    executor = RayExecutor(SandboxConfig("docker"), max_workers=2)
    try:
        futures = [executor.submit(job()) for _ in range(4)]
        results = [f.result(timeout=300) for f in futures]
    finally:
        executor.shutdown()
    assert all(r.status == Status.OK and r.metrics == {"score": 2.0} for r in results), [
        r.reason for r in results
    ]
