"""Run store at scale: append throughput, and Run.open + .lineage() for big runs.

For each size, a fresh process writes N synthetic programs (realistic sizes:
~1.5 kB of code each, a few metrics, an event per 10 programs) through
``RunStore.append_*`` with a commit every 256 records, as a busy run does (a run
commits every 256 records or every second, whichever comes first), then opens
the run with ``evolve.Run.open`` and builds ``.lineage()`` and ``.programs``.
Prints a markdown table; peak RSS is the process's own (ru_maxrss).

    .venv/bin/python benchmarks/store.py [--sizes 10000,100000]

Targets (issue 7): appends never the bottleneck (>= 5,000 records/s);
lineage of 100k programs in <= 5 s.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

COMMIT_EVERY = 256  # the controller commits every 256 records or every second

CODE = "def priority(item, bins):\n" + "".join(
    f"    score_{i} = bins * {i}.5 - item  # a line of a typical evolved program\n"
    for i in range(25)
)


def measure(n: int) -> dict:
    from evolve.notebook import Run
    from evolve.records import Program
    from evolve.store import RunStore
    from tests.core.problem_factory import write_problem

    rng = random.Random(0)
    with tempfile.TemporaryDirectory() as tmp:
        problem = write_problem(Path(tmp) / "problem")
        store = RunStore.create(Path(tmp) / "run", {"problem": "bench"}, problem)
        started = time.perf_counter()
        for i in range(n):
            parent = f"p{rng.randrange(i):07d}" if i else None
            store.append_program(
                Program(
                    id=f"p{i:07d}",
                    code=CODE + f"    return score_{i % 25}  # {i}\n",
                    parent_ids=(parent,) if parent else (),
                    island=i % 5,
                    generation=i // 100,
                    iteration=i,
                    created_at=float(i),
                    metrics={"score": rng.random(), "size": float(i % 50)},
                    score=rng.random(),
                    fitness=rng.random(),
                    edit_kind="diff",
                    model="offline",
                )
            )
            if i % 10 == 0:
                store.append_event("migration", i, {"from": i % 5, "to": (i + 1) % 5})
            if i % COMMIT_EVERY == COMMIT_EVERY - 1:
                store.commit({"controller": {"evaluations": i}})
        store.commit({})
        append_s = time.perf_counter() - started
        started = time.perf_counter()
        run = Run.open(Path(tmp) / "run")
        graph = run.lineage()
        lineage_s = time.perf_counter() - started
        started = time.perf_counter()
        frame = run.programs
        best = run.best(1).index[0]
        path = run.path_to_best()
        programs_s = time.perf_counter() - started
        assert graph.number_of_nodes() == n == len(frame) and path[-1] == best
        files = sum(1 for _ in (Path(tmp) / "run").rglob("*.parquet"))
    return {
        "n": n,
        "append_rate": n / append_s,
        "lineage_s": lineage_s,
        "programs_s": programs_s,
        "files": files,
        "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(measure(args.one)))
        return
    print(
        "| programs | append (records/s) | Run.open + lineage() s | .programs + best + path s "
        "| parquet files | peak RSS MB |"
    )
    print("|---:|---:|---:|---:|---:|---:|")
    for n in (int(s) for s in args.sizes.split(",")):
        out = subprocess.run(
            [sys.executable, __file__, "--one", str(n)], capture_output=True, text=True, check=True
        )
        r = json.loads(out.stdout.strip().splitlines()[-1])
        print(
            f"| {n:,} | {r['append_rate']:,.0f} | {r['lineage_s']:.2f} | {r['programs_s']:.2f} "
            f"| {r['files']} | {r['rss_mb']:.0f} |"
        )


if __name__ == "__main__":
    main()
