"""Sandbox overhead and throughput: process, Docker cold, Docker warm pool.

Scores a trivial candidate with a trivial scorer (so what is timed is the
sandbox: job files, isolation, fork, result envelope) and prints a markdown
table of the median and p95 wall time per evaluation, then the throughput
with 1, 2 and 4 evaluations in flight. Everything is measured in one run,
side by side; on a shared machine, compare rows rather than absolute values.

    .venv/bin/python benchmarks/sandbox.py [--jobs 200] [--cold-jobs 20]

Targets (issue 5): warm Docker <= 60 ms median overhead (stretch 15 ms),
process <= 30 ms (stretch 10 ms).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sandboxes.docker.sandbox import DockerSandbox
from sandboxes.job import EvalJob, Limits, Sandbox, Status
from sandboxes.process import ProcessSandbox

SCORER = b"""
import importlib.util

def evaluate(program_path):
    spec = importlib.util.spec_from_file_location("candidate", program_path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return {"score": float(module.solve())}
"""
CODE = "def solve():\n    return 1.0\n"


def job(i: int) -> EvalJob:
    return EvalJob(f"bench-{i}", CODE, {"scorer.py": SCORER}, limits=Limits(timeout_s=30))


def timed(box: Sandbox, n: int) -> list[float]:
    """Wall time of ``n`` sequential evaluations (ms), after one warm-up."""
    assert box.run(job(-1)).status == Status.OK
    times = []
    for i in range(n):
        started = time.perf_counter()
        result = box.run(job(i))
        times.append((time.perf_counter() - started) * 1000)
        assert result.status == Status.OK, result.reason
    return times


def throughput(box: Sandbox, concurrency: int, n: int) -> float:
    """Evaluations per second with ``concurrency`` in flight."""
    with ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(box.run, [job(i) for i in range(concurrency * 2)]))  # warm every slot
        started = time.perf_counter()
        results = list(pool.map(box.run, [job(i) for i in range(n)]))
        elapsed = time.perf_counter() - started
    assert all(r.status == Status.OK for r in results)
    return n / elapsed


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20)[-1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=200, help="timed evaluations per row")
    parser.add_argument("--cold-jobs", type=int, default=20, help="evaluations for Docker cold")
    args = parser.parse_args()

    boxes: dict[str, Sandbox] = {
        "process": ProcessSandbox(),
        "docker warm pool": DockerSandbox(max_containers=4),
        "docker cold (new container per job)": DockerSandbox(max_containers=1, cold=True),
    }
    try:
        load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
        print(f"load average before: {load} ({os.cpu_count()} CPUs)\n")
        print("| sandbox | median ms / eval | p95 ms / eval | evals |")
        print("|---|---:|---:|---:|")
        for name, box in boxes.items():
            n = args.cold_jobs if "cold" in name else args.jobs
            times = timed(box, n)
            print(f"| {name} | {statistics.median(times):.1f} | {p95(times):.1f} | {n} |")
        print()
        print("| sandbox | 1 in flight (evals/s) | 2 in flight | 4 in flight |")
        print("|---|---:|---:|---:|")
        for name in ("process", "docker warm pool"):
            rates = [throughput(boxes[name], c, args.jobs) for c in (1, 2, 4)]
            print(f"| {name} | " + " | ".join(f"{r:.0f}" for r in rates) + " |")
    finally:
        for box in boxes.values():
            box.close()


if __name__ == "__main__":
    main()
