"""evolve's own cost per candidate as the population grows: 1k, 10k, 100k, 1M programs.

The real controller, database and run store, with the two outside costs
removed: an executor that answers at once (no sandbox) and a proposer that
edits one number (no mutation work). A run directory and database are first
filled with N synthetic programs (stored and placed on islands as a run would),
then the controller evaluates 500 children to warm up (the store builds its
id index once) and three chunks of ``--candidates`` more, each timed (the
median chunk is reported, with the time spent in commits apart); the time per
child is the framework's own: sampling a parent and inspirations (code read
back from the store), applying the edit, dedup, recording, committing and
checkpointing the database. Each size runs in a fresh process.

    .venv/bin/python benchmarks/overhead.py [--sizes 1000,10000,100000,1000000] [--candidates 1000]

Goals: per-candidate controller cost flat (<= 2x) from 1k to 1M programs and
<= 0.5 ms at 100k (issue 14; issue 8 asked <= 2x to 100k). The database checkpoint
is incremental (a delta log; a full base only when the log outgrows a quarter
of the programs), so a commit costs what changed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import re
import subprocess
import sys
import tempfile
import time
from concurrent.futures import Future
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

WARM_UP = 500
CHUNKS = 3


class InstantExecutor:
    """Answers every job at once with a score read from the program."""

    max_workers = 2

    def submit(self, job):
        from sandboxes.job import EvalResult, Status

        value = float(re.search(r"return (\S+)", job.code).group(1))
        future: Future = Future()
        future.set_result(EvalResult(Status.OK, metrics={"score": value}))
        return future

    def shutdown(self) -> None:
        return None


class OneNumberProposer:
    """Replaces the returned number with a fresh one: a valid, cheap SEARCH/REPLACE edit."""

    name = "one-number"

    def __init__(self, seed: int) -> None:
        self._rng = random.Random(seed)

    async def propose(self, parent, inspirations, seed):
        from evolve.mutation import Proposal

        old = re.search(r"    return \S+", parent.code).group(0)
        new = f"    return {self._rng.random()!r}"
        return Proposal(
            text=f"<<<<<<< SEARCH\n{old}\n=======\n{new}\n>>>>>>> REPLACE\n", model=self.name
        )

    def feedback(self, proposal, parent_fitness, child_fitness) -> None:
        return None

    def drain_calls(self) -> list:
        return []

    def snapshot(self) -> dict:
        return {}

    def restore(self, state) -> None:
        return None

    async def aclose(self) -> None:
        return None


def measure(n: int, candidates: int) -> dict:
    from benchmarks._synthetic import SEED, populate
    from evolve.config import load_problem
    from evolve.database import PopulationDatabase
    from evolve.engine.controller import Controller, RunLimits
    from evolve.engine.state import Progress
    from evolve.store import RunStore
    from tests.problem_factory import write_problem

    with tempfile.TemporaryDirectory() as tmp:
        root = write_problem(Path(tmp) / "problem", seed=SEED)
        store = RunStore.create(Path(tmp) / "run", {"problem": "bench"}, root)
        problem = load_problem(store.problem_dir)
        database = PopulationDatabase(
            problem.spec.database, seed=0, program_lookup=store.get_program
        )
        islands = problem.spec.database.num_islands
        populate(store, database, n, islands)
        progress = Progress(next_iteration=n, evaluations=n)
        controller = Controller(
            problem,
            store,
            database,
            OneNumberProposer(1),
            InstantExecutor(),
            seed=1,
            progress=progress,
        )
        controller.commit()
        # Warm-up (not timed): the store builds its id index once per process.
        asyncio.run(controller.run(RunLimits(evaluations=WARM_UP, concurrency=2)))
        committing = _time_commits(controller)
        chunks = []  # (seconds, seconds committing) per chunk; the median chunk is reported
        for _ in range(CHUNKS):
            before, commit_before = controller.progress.evaluations, committing["s"]
            started = time.perf_counter()
            asyncio.run(controller.run(RunLimits(evaluations=candidates, concurrency=2)))
            chunks.append((time.perf_counter() - started, committing["s"] - commit_before))
            assert controller.progress.evaluations - before == candidates
    elapsed, commit_s = sorted(chunks)[CHUNKS // 2]
    return {
        "n": n,
        "us_per_candidate": 1e6 * elapsed / candidates,
        "us_commit": 1e6 * commit_s / candidates,
        "commits": committing["n"],
    }


def _time_commits(controller) -> dict:
    """Wrap the recorder's commit (segments + checkpoint) to time it apart."""
    total = {"s": 0.0, "n": 0}
    commit = controller.recorder.commit

    def timed() -> None:
        started = time.perf_counter()
        commit()
        total["s"] += time.perf_counter() - started
        total["n"] += 1

    controller.recorder.commit = timed
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000,100000,1000000")
    parser.add_argument("--candidates", type=int, default=1000, help="children per timed chunk")
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(measure(args.one, args.candidates)))
        return
    print(
        "| programs in the run | controller ms per candidate | vs 1k "
        "| of which commits (records + checkpoint) | commits | the rest | rest vs 1k |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|")
    base = base_rest = None
    for n in (int(s) for s in args.sizes.split(",")):
        out = subprocess.run(
            [sys.executable, __file__, "--one", str(n), "--candidates", str(args.candidates)],
            capture_output=True,
            text=True,
        )
        if out.returncode:
            raise SystemExit(out.stderr[-3000:])
        row = json.loads(out.stdout.strip().splitlines()[-1])
        us, commit = row["us_per_candidate"], row["us_commit"]
        base, base_rest = base or us, base_rest or us - commit
        print(
            f"| {n:,} | {us / 1000:.2f} | {us / base:.2f}x | {commit / 1000:.2f} "
            f"| {row['commits']} | {(us - commit) / 1000:.2f} | {(us - commit) / base_rest:.2f}x |"
        )


if __name__ == "__main__":
    main()
