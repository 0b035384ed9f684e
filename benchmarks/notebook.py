"""Notebook API and HTML report at scale: evolve.Run on 10k and 100k programs.

For each size, a synthetic run is written through ``RunStore.append_*`` (a
random tree of depth ~40, one or two inspirations per child, 5 islands,
~1.5 kB of code per program, a commit every 256 records as a busy run does),
then a fresh process times, median of ``--repeats`` (each on a new
``Run.open``, the page cache warm):

- ``Run.open + lineage()``: open the run and build the networkx DiGraph;
- ``.programs``: the DataFrame with metrics expanded into columns;
- ``best + path + diff``: best(10), path_to_best(), the best program's diff
  (on a Run whose ``.programs`` is loaded; the first code read indexes the store);
- ``plot_lineage``: the tree figure (Agg; above 5,000 programs, a sample);
- ``report``: the whole HTML page (3,000 programs drawn, 300 with code).

    .venv/bin/python benchmarks/notebook.py [--sizes 10000,100000] [--repeats 3]

Target (issue 7): Run.open + lineage() of 100k programs in seconds.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

COMMIT_EVERY = 256
CODE = "def priority(item, bins):\n" + "".join(
    f"    score_{i} = bins * {i}.5 - item  # a line of a typical evolved program\n"
    for i in range(25)
)


def write_run(root: Path, n: int) -> Path:
    """A synthetic run of ``n`` programs written through the store's append API."""
    from evolve.records import Program, Status
    from evolve.store import RunStore
    from tests.problem_factory import write_problem

    rng = random.Random(0)
    store = RunStore.create(root / "run", {"problem": "bench"}, write_problem(root / "problem"))
    generation: list[int] = []
    for i in range(n):
        parents: tuple[str, ...] = ()
        if i:
            # Recent programs are likelier parents: a tree of realistic depth.
            primary = max(0, i - 1 - int(rng.expovariate(1 / max(1.0, i / 40))))
            extra = {rng.randrange(i) for _ in range(rng.randint(1, 2))} - {primary}
            parents = (f"p{primary:07d}", *(f"p{k:07d}" for k in sorted(extra)))
            generation.append(generation[primary] + 1)
        else:
            generation.append(0)
        ok = i == 0 or rng.random() > 0.1
        score = generation[-1] * 0.01 + rng.random() if ok else None
        store.append_program(
            Program(
                id=f"p{i:07d}",
                code=CODE + f"    return score_{i % 25}  # {i}\n",
                parent_ids=parents,
                island=i % 5,
                generation=generation[-1],
                iteration=i,
                created_at=float(i),
                status=Status.OK if ok else Status.INVALID,
                metrics={"score": score, "size": float(i % 50)} if ok else {},
                score=score,
                fitness=score,
                reason="" if ok else "rejected by the scorer",
                edit_kind="diff" if i else "seed",
                model="offline" if i else "",
            )
        )
        if i % COMMIT_EVERY == COMMIT_EVERY - 1:
            store.commit({"controller": {"evaluations": i}})
    store.commit({})
    return root / "run"


def _median_s(
    fn: Callable[..., object], repeats: int, setup: Callable[[], object] | None = None
) -> float:
    times = []
    for _ in range(repeats):
        args = (setup(),) if setup else ()
        started = time.perf_counter()
        fn(*args)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def measure(run_dir: Path, repeats: int) -> dict[str, float]:
    """Time each step on ``run_dir`` (a fresh Run per repeat where it matters)."""
    os.environ.setdefault("MPLBACKEND", "Agg")
    import matplotlib.pyplot as plt

    from evolve.analysis.report import build_report
    from evolve.analysis.run import Run

    def open_lineage() -> None:
        run = Run.open(run_dir)
        assert run.lineage().number_of_nodes() == len(run._table)

    def programs() -> None:
        assert len(Run.open(run_dir).programs)

    def loaded() -> Run:
        fresh = Run.open(run_dir)
        fresh.programs  # noqa: B018
        return fresh

    def best_path_diff(run: Run) -> None:
        best = run.best(10)
        assert run.path_to_best()[-1] == best.index[0]
        run.diff(best.index[0])

    run = Run.open(run_dir)
    run.programs  # noqa: B018  (the plots and the report start from a loaded run)

    def plot() -> None:
        plt.close(run.plot_lineage())

    def report() -> None:
        assert len(build_report(run)) > 1000

    return {
        "open_lineage_s": _median_s(open_lineage, repeats),
        "programs_s": _median_s(programs, repeats),
        "best_s": _median_s(best_path_diff, repeats, loaded),
        "plot_s": _median_s(plot, repeats),
        "report_s": _median_s(report, repeats),
        "depth": float(run.programs["generation"].max()),
        "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--measure", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(Path(args.measure), args.repeats)))
        return
    print(
        "| programs | depth | write s | Run.open + lineage() s | .programs s "
        "| best + path + diff s | plot_lineage s | report s | peak RSS MB |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for n in (int(s) for s in args.sizes.split(",")):
        with tempfile.TemporaryDirectory() as tmp:
            started = time.perf_counter()
            run_dir = write_run(Path(tmp), n)
            write_s = time.perf_counter() - started
            out = subprocess.run(
                [
                    sys.executable,
                    __file__,
                    "--measure",
                    str(run_dir),
                    "--repeats",
                    str(args.repeats),
                ],
                capture_output=True,
                text=True,
                check=True,
            )
            r = json.loads(out.stdout.strip().splitlines()[-1])
        print(
            f"| {n:,} | {r['depth']:.0f} | {write_s:.1f} | {r['open_lineage_s']:.2f} "
            f"| {r['programs_s']:.2f} | {r['best_s']:.2f} | {r['plot_s']:.2f} "
            f"| {r['report_s']:.2f} | {r['rss_mb']:.0f} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
