"""Ray scaling: evaluations/s with 1, 2, 4 worker nodes, and Ray's per-task overhead.

Builds a simulated cluster on this machine (``ray.cluster_utils.Cluster``: a
head with no CPUs and N worker nodes of one CPU each), runs a fixed number of
evaluations through :class:`RayExecutor` with N in flight, and prints a
markdown table of evaluations/s and scaling efficiency (rate / (N x rate with
one worker)) for a scorer that sleeps 0.2 s and one that burns 0.2 s of CPU.
Then it times single trivial evaluations, one at a time, through the Ray
executor and the local executor (both on the process sandbox) and prints the
median difference: Ray's own cost per task.

    .venv/bin/python benchmarks/scaling.py [--jobs 40] [--workers 1,2,4]

Targets (issue 6): >= 90% efficiency for sleep-bound jobs up to 4 workers;
Ray per-task overhead <= 5 ms. On a 2-core machine the CPU-bound rows cannot
scale past 2 workers: the simulated nodes share the same two cores.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import ray
from ray.cluster_utils import Cluster

from evolve.executors.local import LocalExecutor
from evolve.executors.ray import RayExecutor
from sandboxes.job import EvalJob, EvalResult, Limits, Status
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
    return EvalJob(f"bench-{i}", "x = 1\n", {"scorer.py": SCORERS[scorer]}, limits=Limits(cpus=1))


def rate(executor, scorer: str, n: int) -> float:
    warm = [executor.submit(job(scorer, -i)) for i in range(executor.max_workers)]
    assert all(f.result().status == Status.OK for f in warm)
    started = time.perf_counter()
    futures = [executor.submit(job(scorer, i)) for i in range(n)]
    assert all(f.result().status == Status.OK for f in futures)
    return n / (time.perf_counter() - started)


def latency_ms(executor, n: int) -> float:
    executor.submit(job("trivial", -1)).result()
    times = []
    for i in range(n):
        started = time.perf_counter()
        assert executor.submit(job("trivial", i)).result().status == Status.OK
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def scaling(workers: list[int], jobs: int) -> None:
    print("| scorer | workers | evals/s | efficiency |")
    print("|---|---:|---:|---:|")
    for scorer in ("sleep 0.2 s", "burn 0.2 s CPU"):
        base = None
        for n in workers:
            cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 0})
            for _ in range(n):
                cluster.add_node(num_cpus=1)
            cluster.wait_for_nodes()
            ray.init(address=cluster.address, log_to_driver=False)
            try:
                executor = RayExecutor("process", max_workers=n)
                r = rate(executor, scorer, jobs)
                executor.shutdown()
            finally:
                ray.shutdown()
                cluster.shutdown()
            base = base or r / n
            print(f"| {scorer} | {n} | {r:.2f} | {100 * r / (n * base):.0f}% |")


def _no_sandbox(kind: str, image: str | None, job: EvalJob):
    """A worker that returns at once: what is left is Ray's scheduling and transport."""
    return EvalResult(Status.OK, metrics={"score": 1.0}), "-"


def overhead(n: int) -> None:
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        bare = RayExecutor("process", max_workers=1, worker=_no_sandbox)
        bare_ms = latency_ms(bare, n)
        bare.shutdown()
        ray_executor = RayExecutor("process", max_workers=1)
        ray_ms = latency_ms(ray_executor, n)
        ray_executor.shutdown()
    finally:
        ray.shutdown()
    local = LocalExecutor(ProcessSandbox(), max_workers=1)
    local_ms = latency_ms(local, n)
    local.shutdown()
    print()
    print("| path (trivial job, one at a time) | median ms / eval |")
    print("|---|---:|")
    print(f"| Ray task, worker returns at once (Ray's own cost per task) | {bare_ms:.1f} |")
    print(f"| local executor + process sandbox | {local_ms:.1f} |")
    print(f"| Ray executor + process sandbox on a Ray worker | {ray_ms:.1f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=40, help="evaluations per row")
    parser.add_argument("--workers", default="1,2,4", help="worker-node counts")
    parser.add_argument("--latency-jobs", type=int, default=200)
    args = parser.parse_args()
    scaling([int(w) for w in args.workers.split(",")], args.jobs)
    overhead(args.latency_jobs)


if __name__ == "__main__":
    main()
