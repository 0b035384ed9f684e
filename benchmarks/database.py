"""Population database at scale: median add and sample times and memory.

Fills a database (program_lookup mode: only metadata in RAM, as in a real run)
with synthetic programs, then times single ``add`` and ``sample`` calls at that
size. Each size runs in a fresh process so its RSS is its own. Prints a
markdown table.

    .venv/bin/python benchmarks/database.py [--sizes 10000,100000,1000000]

Targets (issue 3): add and sample <= 100 us median at 1M programs, at most 2x
growth from 10k to 1M, RSS <= 1.5 GB at 1M.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from evolve.database import (
    DatabaseConfig,
    FeatureDimension,
    PopulationDatabase,
)
from evolve.records import Program, Status

CONFIG = DatabaseConfig(
    num_islands=5,
    migration_interval=10,
    migration_fraction=0.1,
    max_migrants=10,
    selection="mix",
    selection_mix={"uniform": 0.2, "rank": 0.5, "weighted": 0.3},
    num_inspirations=4,
    archive_inspirations=1,
    feature_dimensions=(
        FeatureDimension("complexity", min=0.0, max=1.0, bins=10),
        FeatureDimension("diversity", width=0.5),
    ),
    archive_size=100,
    archive_policy="crowding",
)
INVALID_SHARE = 0.1


def synthetic(i: int, rng: np.random.Generator, num_islands: int) -> Program:
    """Program ``i``: fitness creeps up over the run, 10% fail, two feature metrics."""
    failed = rng.random() < INVALID_SHARE
    fitness = None if failed else float(0.05 * math.log1p(i) + rng.normal())
    return Program(
        id=f"p{i:07d}",
        code=f"def solve():\n    return {i}\n",
        parent_ids=() if i == 0 else (f"p{int(rng.integers(i)):07d}",),
        island=i % num_islands,
        status=Status.ERROR if failed else Status.OK,
        fitness=fitness,
        score=fitness,
        metrics={"complexity": float(rng.random()), "diversity": float(rng.normal(0, 3))},
    )


def lookup(program_id: str) -> Program:
    """Stands in for the run store: rebuilds a program from its id, keeps nothing."""
    i = int(program_id[1:])
    return Program(
        id=program_id, code=f"def solve():\n    return {i}\n", fitness=0.0, status=Status.OK
    )


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_one(size: int, measure: int, seed: int) -> dict[str, float]:
    rng = np.random.default_rng(seed)
    db = PopulationDatabase(CONFIG, seed=seed, program_lookup=lookup)
    fill = size - measure
    started = time.perf_counter()
    for i in range(fill):
        db.add(synthetic(i, rng, CONFIG.num_islands))
    fill_s = time.perf_counter() - started
    add_ns, cold_ns, dedup_ns = [], [], []
    for i in range(fill, size):
        program = synthetic(i, rng, CONFIG.num_islands)
        if i % 2:  # add alone: it tokenizes the code to hash it
            t0 = time.perf_counter_ns()
            db.add(program)
            cold_ns.append(time.perf_counter_ns() - t0)
            continue
        # The controller's order: find_duplicate before evaluating, add after.
        t0 = time.perf_counter_ns()
        db.find_duplicate(program.code)
        t1 = time.perf_counter_ns()
        db.add(program)
        dedup_ns.append(t1 - t0)
        add_ns.append(time.perf_counter_ns() - t1)
    sample_ns = []
    for _ in range(measure):
        t0 = time.perf_counter_ns()
        db.sample()
        sample_ns.append(time.perf_counter_ns() - t0)
    rss = rss_mb()
    t0 = time.perf_counter()
    text = json.dumps(db.snapshot())
    snapshot_s = time.perf_counter() - t0
    return {
        "size": size,
        "add_us": statistics.median(add_ns) / 1e3,
        "add_p99_us": float(np.percentile(add_ns, 99)) / 1e3,
        "add_cold_us": statistics.median(cold_ns) / 1e3,
        "dedup_us": statistics.median(dedup_ns) / 1e3,
        "sample_us": statistics.median(sample_ns) / 1e3,
        "sample_p99_us": float(np.percentile(sample_ns, 99)) / 1e3,
        "fill_us_per_add": fill_s / max(fill, 1) * 1e6,
        "rss_mb": rss,
        "snapshot_s": snapshot_s,
        "snapshot_mb": len(text) / 2**20,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--measure", type=int, default=4000, help="timed adds and samples")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one is not None:
        print(json.dumps(run_one(args.one, min(args.measure, args.one // 2), args.seed)))
        return
    rows = []
    for size in (int(s) for s in args.sizes.split(",")):
        out = subprocess.run(
            [sys.executable, __file__, "--one", str(size), "--measure", str(args.measure)],
            check=True,
            capture_output=True,
            text=True,
            env={**os.environ, "PYTHONHASHSEED": "0"},
        )
        rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
        print(f"done {size}", file=sys.stderr)
    print(
        "| programs | add (us) | add p99 (us) | add, hashing included (us) | find_duplicate (us) "
        "| sample (us) | sample p99 (us) | RSS (MB) | snapshot (s) | snapshot (MB) |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(
            f"| {r['size']:,} | {r['add_us']:.1f} | {r['add_p99_us']:.1f} | {r['add_cold_us']:.1f} "
            f"| {r['dedup_us']:.1f} | {r['sample_us']:.1f} | {r['sample_p99_us']:.1f} "
            f"| {r['rss_mb']:.0f} | {r['snapshot_s']:.2f} | {r['snapshot_mb']:.1f} |"
        )
    print(
        "\nMedians over the last timed adds and the samples that follow, at the stated size; "
        "add follows find_duplicate (the controller's order), so its code is already hashed."
    )


if __name__ == "__main__":
    main()
