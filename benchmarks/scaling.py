"""Ray scaling: evaluations/s with 1, 2, 4 workers, and Ray's per-task overhead.

Builds a simulated cluster on this machine (``ray.cluster_utils.Cluster``: a
head with no CPUs and either N worker nodes of one CPU each, or N CPUs on at
most two worker nodes), runs batches of evaluations through
:class:`RayExecutor` with N in flight, and prints a markdown table of
evaluations/s (median of the rounds) and scaling efficiency (rate / (N x rate
with one worker)) for a scorer that sleeps 0.2 s and one that burns 0.2 s of
CPU, with the local executor (threads, no Ray) on the same jobs beside them.
Then it times single trivial evaluations, one at a time, through a bare Ray
task, the Ray executor and the local executor (both on the process sandbox),
interleaved under one Ray instance, and prints the medians and the difference:
what the Ray path costs per task over the local one.

    .venv/bin/python benchmarks/scaling.py [--jobs 40] [--rounds 3] [--workers 1,2,4]
        [--paths ray-nodes,ray-2nodes,local] [--no-latency]

Targets (issue 6): >= 90% efficiency for sleep-bound jobs up to 4 workers;
Ray per-task overhead <= 5 ms. On a 2-core machine the CPU-bound rows cannot
scale past 2 workers: the simulated nodes share the same two cores.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import ray
from ray.cluster_utils import Cluster

from evolve.executors.local import LocalExecutor
from evolve.executors.ray.executor import RayExecutor
from evolve.executors.ray.worker import WorkerSandbox
from sandboxes.factory import SandboxConfig
from sandboxes.job import EvalJob, EvalResult, Limits, Resources, Status
from sandboxes.process import ProcessSandbox

SCORERS = {
    "sleep 0.2 s": (
        b"import time\ndef evaluate(p):\n    time.sleep(0.2)\n    return {'score': 1.0}\n"
    ),
    "burn 0.2 s CPU": (
        b"import time\ndef evaluate(p):\n    end = time.process_time() + 0.2\n"
        b"    while time.process_time() < end:\n        pass\n    return {'score': 1.0}\n"
    ),
    "trivial": b"def evaluate(p):\n    return {'score': 1.0}\n",
}


def job(scorer: str, i: int) -> EvalJob:
    return EvalJob(
        f"bench-{i}",
        "x = 1\n",
        {"scorer.py": SCORERS[scorer]},
        limits=Limits(resources=Resources(cpus=1)),
    )


def rate(executor, scorer: str, n: int, rounds: int) -> float:
    """Median evaluations/s over ``rounds`` batches of ``n`` jobs, after one warm-up wave."""
    warm = [executor.submit(job(scorer, -i)) for i in range(executor.max_workers)]
    assert all(f.result().status == Status.OK for f in warm)
    rates = []
    for _ in range(rounds):
        started = time.perf_counter()
        futures = [executor.submit(job(scorer, i)) for i in range(n)]
        assert all(f.result().status == Status.OK for f in futures)
        rates.append(n / (time.perf_counter() - started))
    return statistics.median(rates)


def latencies_ms(executor, n: int) -> list[float]:
    """Wall time of ``n`` trivial evaluations, one at a time."""
    times = []
    for i in range(n):
        started = time.perf_counter()
        assert executor.submit(job("trivial", i)).result().status == Status.OK
        times.append((time.perf_counter() - started) * 1000)
    return times


def cluster_rate(layout: str, workers: int, scorer: str, jobs: int, rounds: int) -> float:
    """Rate on a fresh simulated cluster: a CPU-less head plus ``workers`` one-CPU
    nodes (layout "nodes") or at most two nodes sharing ``workers`` CPUs ("cpus")."""
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 0})
    if layout == "nodes":
        cpus = [1] * workers
    else:
        cpus = [c for c in ((workers + 1) // 2, workers // 2) if c]
    for c in cpus:
        cluster.add_node(num_cpus=c)
    cluster.wait_for_nodes()
    ray.init(address=cluster.address, log_to_driver=False)
    try:
        executor = RayExecutor(SandboxConfig("process"), max_workers=workers)
        try:
            return rate(executor, scorer, jobs, rounds)
        finally:
            executor.shutdown()
    finally:
        ray.shutdown()
        cluster.shutdown()


def local_rate(workers: int, scorer: str, jobs: int, rounds: int) -> float:
    executor = LocalExecutor(ProcessSandbox(), max_workers=workers)
    try:
        return rate(executor, scorer, jobs, rounds)
    finally:
        executor.shutdown()


# name -> (table label, rate function)
PATHS = {
    "ray-nodes": (
        "Ray, N one-CPU worker nodes",
        lambda n, s, j, r: cluster_rate("nodes", n, s, j, r),
    ),
    "ray-2nodes": (
        "Ray, N CPUs on <= 2 worker nodes",
        lambda n, s, j, r: cluster_rate("cpus", n, s, j, r),
    ),
    "local": ("local executor (threads, no Ray)", local_rate),
}


def scaling(workers: list[int], jobs: int, rounds: int, paths: list[str]) -> None:
    print(f"load average before: {os.getloadavg()[0]:.1f} (1 min), {os.cpu_count()} cores")
    print()
    print("| scorer | path | workers | evals/s | efficiency |")
    print("|---|---|---:|---:|---:|")
    for scorer in ("sleep 0.2 s", "burn 0.2 s CPU"):
        for path in paths:
            base = None
            label, measure = PATHS[path]
            for n in workers:
                r = measure(n, scorer, jobs, rounds)
                base = base or r / n
                print(f"| {scorer} | {label} | {n} | {r:.2f} | {100 * r / (n * base):.0f}% |")
                sys.stdout.flush()


def _no_sandbox(spec: WorkerSandbox, job: EvalJob):
    """A worker that returns at once: what is left is Ray's scheduling and transport."""
    return EvalResult(Status.OK, metrics={"score": 1.0}), "-"


def overhead(n: int, rounds: int = 10) -> None:
    """Per-evaluation latency of each path, measured side by side: all executors
    live at once under one local Ray instance, their batches interleaved, so the
    machine's load and Ray's idle daemons weigh on every path alike."""
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    executors = {
        "bare": RayExecutor(SandboxConfig("process"), max_workers=1, worker=_no_sandbox),
        "local": LocalExecutor(ProcessSandbox(), max_workers=1),
        "ray": RayExecutor(SandboxConfig("process"), max_workers=1),
    }
    times: dict[str, list[float]] = {name: [] for name in executors}
    try:
        for ex in executors.values():
            latencies_ms(ex, 3)  # warm: worker process, fork server
        for _ in range(rounds):
            for name, ex in executors.items():
                times[name] += latencies_ms(ex, max(1, n // rounds))
    finally:
        for ex in executors.values():
            ex.shutdown()
        ray.shutdown()
    ms = {name: statistics.median(t) for name, t in times.items()}
    print()
    print("| path (trivial job, one at a time, interleaved) | median ms / eval |")
    print("|---|---:|")
    print(f"| Ray task, worker returns at once (Ray's own cost per task) | {ms['bare']:.1f} |")
    print(f"| local executor + process sandbox | {ms['local']:.1f} |")
    print(f"| Ray executor + process sandbox on a Ray worker | {ms['ray']:.1f} |")
    print(f"| **Ray path minus local executor** | **{ms['ray'] - ms['local']:.1f}** |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=40, help="evaluations per round")
    parser.add_argument("--rounds", type=int, default=3, help="rounds per row (median)")
    parser.add_argument("--workers", default="1,2,4", help="workers (jobs in flight)")
    parser.add_argument("--paths", default=",".join(PATHS), help="rows: " + ",".join(PATHS))
    parser.add_argument("--latency-jobs", type=int, default=300)
    parser.add_argument("--no-latency", action="store_true", help="skip the per-task table")
    args = parser.parse_args()
    workers = [int(w) for w in args.workers.split(",")]
    scaling(workers, args.jobs, args.rounds, args.paths.split(","))
    if not args.no_latency:
        overhead(args.latency_jobs)
    print()
    print(f"load average after: {os.getloadavg()[0]:.1f} (1 min)")


if __name__ == "__main__":
    main()
