"""The controller past this machine: a simulated 1,024-worker cluster and a 256-call LLM.

The real controller, database and run store (pipeline schedule), with the two
outside sides simulated so that only the controller's own work costs CPU:

* ``SimulatedCluster``, an executor of ``--workers`` slots (K, default 1,024)
  with no processes and no thread per job: every submitted job's future is
  completed by one timer thread (a heap of deadlines) after a latency drawn
  from a lognormal distribution (``--eval-sigma``; the median is scaled to the
  offered load, or fixed with ``--eval-median-s``).
* ``SimulatedLLM``, a proposer that edits one number after an
  ``asyncio.sleep`` of a lognormal latency (``--llm-median-s``,
  ``--llm-sigma``), with M = ``--proposals`` (default 256) calls in flight.

A run directory is first filled with 1,000 programs, as ``overhead.py`` does.
For each offered load (the ideal rate min(M / mean LLM latency, K / mean
evaluation latency)) the controller runs a warm-up (two mean evaluation
latencies, so the workers' completions are spread as in steady state), then a
measured window of max(500, ``--seconds`` x ideal) evaluations (or 2 x
``--seconds`` of wall time, so a saturated row ends in time), then a stop.
Per row: evaluations settled per second of wall time, what the cluster
completed per second (below the ideal when finished jobs wait for the loop),
the controller's CPU per evaluation (the process's CPU less the timer
thread's) and the rate that CPU would allow on a core of its own, the
children's median staleness, and the mean jobs running and children queued.
Then one run at the profiled load (by default the highest) under cProfile, for
the window only: the top functions by own time, and the controller's stages by
cumulative time (they nest), which show where it saturates.

    .venv/bin/python benchmarks/simulated_cluster.py [--loads 250,500,1000,2000,4000,8000]
        [--workers 1024] [--proposals 256] [--profile-load 8000] [--quick]

Target (issue, item 5): the simulated 1,024-worker cluster sustains >= 1,000
evaluations/s.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import heapq
import itertools
import math
import os
import pstats
import random
import re
import statistics
import sys
import tempfile
import threading
import time
from collections import deque
from collections.abc import Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks._synthetic import SEED, populate  # noqa: E402
from evolve.config import load_problem  # noqa: E402
from evolve.database import PopulationDatabase  # noqa: E402
from evolve.engine.controller import Controller  # noqa: E402
from evolve.engine.state import Pending, Progress, RunLimits  # noqa: E402
from evolve.mutation import Proposal  # noqa: E402
from evolve.records import Program  # noqa: E402
from evolve.store import RunStore  # noqa: E402
from sandboxes.job import EvalJob, EvalResult, Status  # noqa: E402
from tests.problem_factory import write_problem  # noqa: E402

NUMBER = re.compile(r"return (\S+)")
STARTING_PROGRAMS = 1000
MIN_WINDOW = 500
SATURATED = 0.9  # measured / ideal below this: the controller no longer keeps up
PROFILE_ROWS = 12
PROFILE_WINDOW = 4000  # evaluations profiled at most: the profiler slows the loop ~2x
# The timer thread wakes at most once per tick (completions are up to 1 ms late,
# against latencies of 100 ms and more): each wake takes the GIL from the event
# loop, and a wake per job would make the simulation, not the controller, the cost.
TICK_S = 0.001
LATENCY_BATCH = 4096  # latencies drawn per numpy call


# (deadline, order, future, result): a job in the simulated cluster.
Entry = tuple[float, int, Future[EvalResult], EvalResult]


def lognormal_mean(median: float, sigma: float) -> float:
    """Little's law needs the mean latency, not the median the flags name."""
    return median * math.exp(sigma * sigma / 2)


class SimulatedCluster:
    """An executor of ``workers`` slots whose jobs finish after lognormal latencies.

    One timer thread completes every future (a heap of deadlines), so a thousand
    jobs in flight cost no processes and no threads. ``submit`` hands jobs over
    through a deque (atomic appends) and takes the lock only to wake the timer
    for a deadline earlier than the one it sleeps towards: a lock per job would
    make the event loop and the timer trade the GIL at every submit, and the
    profile would show the simulation instead of the controller. Scores are read
    from the program, as ``overhead.py``'s instant executor does.
    """

    def __init__(self, workers: int, median_s: float, sigma: float, seed: int) -> None:
        self.max_workers = workers
        self._mu = math.log(median_s)
        self._sigma = sigma
        self._rng = np.random.default_rng(seed)  # used on the event-loop thread only
        self._latencies: list[float] = []
        self._order = itertools.count()
        self._incoming: deque[Entry] = deque()  # submitted, not yet in the heap
        self._heap: list[Entry] = []  # the timer thread's only
        self._cond = threading.Condition()
        self._closed = False
        # When the timer will next look (-inf while it is awake and will drain
        # the deque anyway): a submit with an earlier deadline wakes it.
        self._next_look = -math.inf
        self._last_look = 0.0
        self.submitted = 0  # written by the event loop only
        self.completed = 0  # written by the timer only: jobs whose latency has elapsed
        self.peak_in_flight = 0
        self.thread_cpu_s = 0.0  # the timer thread's own CPU, to subtract from the process's
        self._thread = threading.Thread(target=self._serve, name="simulated-cluster", daemon=True)
        self._thread.start()

    @property
    def in_flight(self) -> int:
        return self.submitted - self.completed

    def capacity(self) -> int:
        return self.max_workers

    def submit(self, job: EvalJob) -> Future[EvalResult]:
        if self.in_flight >= self.max_workers:
            # The pipeline promises at most K in flight: a breach is a bug, not load.
            raise RuntimeError(f"more than {self.max_workers} jobs submitted at once")
        match = NUMBER.search(job.code)
        if match is None:
            raise ValueError(f"{job.program_id}: no number to score in its code")
        result = EvalResult(Status.OK, metrics={"score": float(match.group(1))})
        future: Future[EvalResult] = Future()
        if not self._latencies:
            self._latencies = self._rng.lognormal(self._mu, self._sigma, LATENCY_BATCH).tolist()
        deadline = time.monotonic() + self._latencies.pop()
        self._incoming.append((deadline, next(self._order), future, result))
        self.submitted += 1
        self.peak_in_flight = max(self.peak_in_flight, self.in_flight)
        if deadline < self._next_look:
            with self._cond:
                self._cond.notify()
        return future

    def _serve(self) -> None:
        heap, incoming = self._heap, self._incoming
        while True:
            with self._cond:
                while True:
                    if self._closed:
                        return
                    while incoming:
                        heapq.heappush(heap, incoming.popleft())
                    now = time.monotonic()
                    look = max(heap[0][0], self._last_look + TICK_S) if heap else math.inf
                    if look <= now:
                        break
                    # Published before the last check of the deque: a submit after
                    # it sees this time, and an earlier one is in the deque.
                    self._next_look = look
                    if incoming:
                        continue
                    self._cond.wait(look - now if heap else None)
                self._next_look = -math.inf
            now = self._last_look = time.monotonic()
            due = []
            while heap and heap[0][0] <= now:
                due.append(heapq.heappop(heap))
            # Counted before the futures complete: the loop may submit the next job
            # as soon as one does, and must not find the slot still taken.
            self.completed += len(due)
            # Completing a future runs asyncio's wake-up callback (call_soon_threadsafe).
            for _, _, future, result in due:
                if future.set_running_or_notify_cancel():  # False: the caller cancelled it
                    future.set_result(result)
            self.thread_cpu_s = time.thread_time()

    def shutdown(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify()
        self._thread.join()


class SimulatedLLM:
    """Replaces the returned number after a lognormal "LLM" latency.

    ``asyncio.sleep`` rather than a server: M calls in flight cost the event
    loop a timer each, about what an HTTP client's awaited socket costs, and
    no CPU elsewhere, so the proposal side is bounded only by M / latency.
    """

    name = "simulated-llm"

    def __init__(self, median_s: float, sigma: float, seed: int) -> None:
        self._mu = math.log(median_s)
        self._sigma = sigma
        self._rng = np.random.default_rng(seed)
        self._numbers = random.Random(seed)

    async def propose(
        self, parent: Program, inspirations: Sequence[Program], seed: int
    ) -> Proposal:
        await asyncio.sleep(float(self._rng.lognormal(self._mu, self._sigma)))
        match = re.search(r"    return \S+", parent.code)
        if match is None:
            raise ValueError(f"{parent.id}: no return line to edit")
        new = f"    return {self._numbers.random()!r}"
        return Proposal(
            text=f"<<<<<<< SEARCH\n{match.group(0)}\n=======\n{new}\n>>>>>>> REPLACE\n",
            model=self.name,
        )

    def feedback(
        self, proposal: Proposal, parent_fitness: float | None, child_fitness: float | None
    ) -> None:
        return None

    def drain_calls(self) -> list[Any]:
        return []

    def snapshot(self) -> dict[str, Any]:
        return {}

    def restore(self, state: dict[str, Any]) -> None:
        return None

    async def aclose(self) -> None:
        return None


@dataclass
class Window:
    """What the settle hook sees: warm-up until ``warm_until``, then ``size``
    evaluations measured, then a stop (the run drains what is in flight)."""

    warm_until: float  # perf_counter time the measured window may start
    size: int
    max_s: float  # or this long, once MIN_WINDOW are in (a saturated row ends in time)
    controller: Controller | None = None
    cluster: SimulatedCluster | None = None
    profiler: cProfile.Profile | None = None
    settled: int = 0  # evaluations settled in the window
    started: float = 0.0
    ended: float = 0.0
    cpu_started: float = 0.0
    cpu_ended: float = 0.0
    timer_cpu_started: float = 0.0
    timer_cpu_ended: float = 0.0
    completed_started: int = 0  # the cluster's completions, at the window's ends
    completed_ended: int = 0
    staleness: list[int] = field(default_factory=list)
    busy: list[int] = field(default_factory=list)
    queued: list[int] = field(default_factory=list)

    def open(self) -> bool:
        return self.started > 0 and self.ended == 0

    def tick(self, child: Program) -> None:
        """Called after each settle: start, count and end the window."""
        assert self.controller is not None and self.cluster is not None
        if self.ended:
            return
        if not self.started:
            if time.perf_counter() < self.warm_until:
                return
            self.started = time.perf_counter()
            self.cpu_started = time.process_time()
            self.timer_cpu_started = self.cluster.thread_cpu_s
            self.completed_started = self.cluster.completed
            if self.profiler is not None:
                self.profiler.enable()
            return
        self.settled += 1
        if child.staleness is not None:
            self.staleness.append(child.staleness)
        self.busy.append(self.cluster.in_flight)  # running in the cluster, not awaiting settle
        self.queued.append(self.controller.progress.queued)
        over_time = time.perf_counter() - self.started >= self.max_s
        if self.settled >= self.size or (over_time and self.settled >= MIN_WINDOW):
            if self.profiler is not None:
                self.profiler.disable()
            self.ended = time.perf_counter()
            self.cpu_ended = time.process_time()
            self.timer_cpu_ended = self.cluster.thread_cpu_s
            self.completed_ended = self.cluster.completed
            self.controller.request_stop("benchmark window done")


@dataclass(frozen=True)
class Row:
    """One offered load's result."""

    ideal: float
    eval_median_s: float
    measured: float
    delivered: float  # jobs the cluster completed per second in the window
    cpu_ms: float  # controller CPU per evaluation
    staleness: float | None
    busy: float
    queued: float
    evaluations: int
    peak_in_flight: int


def measure(
    args: argparse.Namespace,
    eval_median_s: float,
    window_size: int,
    profiler: cProfile.Profile | None = None,
) -> Row:
    """One controller run at one evaluation latency, in a fresh run directory."""
    eval_mean = lognormal_mean(eval_median_s, args.eval_sigma)
    llm_mean = lognormal_mean(args.llm_median_s, args.llm_sigma)
    ideal = min(args.proposals / llm_mean, args.workers / eval_mean)
    with tempfile.TemporaryDirectory() as tmp:
        root = write_problem(Path(tmp) / "problem", seed=SEED)
        store = RunStore.create(Path(tmp) / "run", {"problem": "bench"}, root)
        problem = load_problem(store.problem_dir)
        database = PopulationDatabase(
            problem.spec.database, seed=0, program_lookup=store.get_program
        )
        populate(store, database, STARTING_PROGRAMS, problem.spec.database.num_islands)
        cluster = SimulatedCluster(args.workers, eval_median_s, args.eval_sigma, seed=1)
        controller = Controller(
            problem,
            store,
            database,
            SimulatedLLM(args.llm_median_s, args.llm_sigma, seed=2),
            cluster,
            seed=1,
            progress=Progress(next_iteration=STARTING_PROGRAMS, evaluations=STARTING_PROGRAMS),
        )
        controller.commit()
        # Warm-up: the first wave of K jobs all start together; after two mean
        # latencies their completions are spread as in steady state.
        warm_s = max(1.0, 2 * eval_mean + 10 * llm_mean)
        window = Window(
            time.perf_counter() + warm_s,
            window_size,
            2 * args.seconds,
            controller=controller,
            cluster=cluster,
            profiler=profiler,
        )
        settle = controller.settle

        def settle_and_count(pending: Pending, result: EvalResult) -> None:
            settle(pending, result)
            window.tick(pending.child)

        controller.settle = settle_and_count  # type: ignore[method-assign]
        limits = RunLimits(
            evaluations=10**9,  # the window's end stops the run
            concurrency=args.workers,
            proposals=args.proposals,
        )
        try:
            asyncio.run(controller.run(limits))
        finally:
            if profiler is not None and window.open():
                profiler.disable()
            cluster.shutdown()
        if not window.ended:
            raise SystemExit(f"the run stopped before its window ended: {controller.progress}")
    elapsed = window.ended - window.started
    cpu = (window.cpu_ended - window.cpu_started) - (
        window.timer_cpu_ended - window.timer_cpu_started
    )
    return Row(
        ideal=ideal,
        eval_median_s=eval_median_s,
        measured=window.settled / elapsed,
        delivered=(window.completed_ended - window.completed_started) / elapsed,
        cpu_ms=1000 * cpu / window.settled,
        staleness=statistics.median(window.staleness) if window.staleness else None,
        busy=statistics.fmean(window.busy),
        queued=statistics.fmean(window.queued),
        evaluations=window.settled,
        peak_in_flight=cluster.peak_in_flight,
    )


def eval_median_for(load: float, args: argparse.Namespace) -> float:
    """The evaluation median at which K workers offer ``load`` evaluations/s."""
    return args.workers / load / math.exp(args.eval_sigma**2 / 2)


def window_for(ideal: float, args: argparse.Namespace) -> int:
    return max(MIN_WINDOW, round(args.seconds * ideal))


def print_rows(rows: list[Row], args: argparse.Namespace) -> None:
    print(
        "| offered (ideal) evals/s | eval median s | measured evals/s | measured / ideal "
        "| cluster completed /s | CPU-bound ceiling evals/s "
        "| controller CPU ms per eval | median staleness | mean jobs running | mean queued "
        "| evals in window |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for row in rows:
        staleness = "-" if row.staleness is None else f"{row.staleness:,.0f}"
        print(
            f"| {row.ideal:,.0f} | {row.eval_median_s:.3f} | {row.measured:,.0f} "
            f"| {row.measured / row.ideal:.2f} | {row.delivered:,.0f} | {1000 / row.cpu_ms:,.0f} "
            f"| {row.cpu_ms:.3f} | {staleness} "
            f"| {row.busy:,.0f} / {args.workers:,} | {row.queued:,.0f} | {row.evaluations:,} |"
        )
    best = max(rows, key=lambda r: r.measured)
    kept = [r for r in rows if r.measured >= SATURATED * r.ideal]
    sustained = max(kept, key=lambda r: r.measured) if kept else None
    saturated = next((r for r in rows if r.measured < SATURATED * r.ideal), None)
    print()
    print(
        "| highest measured evals/s | highest kept up (>= 0.9 x ideal) | saturates at offered "
        "| most jobs in the cluster at once |"
    )
    print("|---:|---:|---:|---:|")
    print(
        f"| {best.measured:,.0f} (offered {best.ideal:,.0f}) "
        f"| {f'{sustained.measured:,.0f}' if sustained else '-'} "
        f"| {f'{saturated.ideal:,.0f}' if saturated else 'not reached'} "
        f"| {max(r.peak_in_flight for r in rows):,} / {args.workers:,} |"
    )


def where(key: tuple[str, int, str]) -> str:
    """A short file:line for a profile entry (repo-relative, or the module's name)."""
    filename, line, _ = key
    if filename.startswith("~") or filename.startswith("<"):
        return filename
    path = Path(filename)
    try:
        return f"{path.resolve().relative_to(ROOT)}:{line}"
    except ValueError:
        parts = path.parts
        short = "/".join(parts[-2:]) if "site-packages" not in parts else path.name
        return f"{short}:{line}"


def print_profile(profiler: cProfile.Profile, row: Row, clock: str) -> None:
    stats = pstats.Stats(profiler)
    entries: dict[tuple[str, int, str], tuple[int, int, float, float, Any]] = stats.stats  # type: ignore[attr-defined]
    n = row.evaluations
    total = sum(tt for _, _, tt, _, _ in entries.values())
    print()
    print(
        f"Profile (cProfile, {clock} clock, event-loop thread, window only) "
        f"at {row.ideal:,.0f} evals/s offered: "
        f"{n:,} evaluations at {row.measured:,.0f}/s under the profiler, "
        f"{1000 * total / n:.3f} ms profiled per evaluation."
    )
    print()
    print("| function | file:line | calls per eval | tottime ms per eval | cumtime ms per eval |")
    print("|---|---|---:|---:|---:|")
    top = sorted(entries.items(), key=lambda kv: kv[1][2], reverse=True)[:PROFILE_ROWS]
    for key, (_, calls, tt, ct, _) in top:
        print(
            f"| `{key[2]}` | {where(key)} | {calls / n:.2f} "
            f"| {1000 * tt / n:.4f} | {1000 * ct / n:.4f} |"
        )
    # The controller's stages, cumulative: which step a saturated loop spends on.
    stages = [
        ("pipeline.py", "start_proposals", "start proposals (includes draw)"),
        ("controller.py", "draw", "draw: sample a parent + inspirations"),
        ("controller.py", "breed", "breed: propose (each resume) + apply the edit"),
        ("pipeline.py", "proposal_done", "proposal done (includes claim)"),
        ("controller.py", "claim", "claim: dedup against database + in flight"),
        ("pipeline.py", "start_evaluations", "start evaluations (stamp + task)"),
        ("controller.py", "_run_job", "make the job + submit"),
        ("pipeline.py", "evaluation_done", "evaluation done (includes settle)"),
        ("controller.py", "settle", "settle: score, database add, records"),
        ("recording.py", "commit", "commit: segments + checkpoint"),
        ("tasks.py", "wait", "asyncio.wait over every task in flight"),
        ("pipeline.py", "<listcomp>", "scan of every task in flight for the done ones"),
        ("base_events.py", "_run_once", "event loop iteration (all of it)"),
        ("~", "<method 'poll' of 'select.epoll' objects>", "idle in epoll"),
    ]
    print()
    print("| stage | function | calls per eval | cumtime ms per eval | share of profiled |")
    print("|---|---|---:|---:|---:|")
    for filename, name, label in stages:
        found = [
            (calls, ct)
            for (file, _, func), (_, calls, _, ct, _) in entries.items()
            if func == name and os.path.basename(file) == filename
        ]
        if not found:
            continue
        calls = sum(c for c, _ in found)
        ct = max(t for _, t in found)
        print(
            f"| {label} | `{filename}:{name}` | {calls / n:.2f} | {1000 * ct / n:.4f} "
            f"| {ct / total:.0%} |"
        )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--workers", type=int, default=1024, help="K, simulated workers")
    parser.add_argument("--proposals", type=int, default=256, help="M, LLM calls in flight")
    parser.add_argument(
        "--loads",
        default="250,500,1000,2000,4000,8000",
        help="offered loads, evaluations/s (each sets the evaluation latency's median)",
    )
    parser.add_argument(
        "--eval-median-s",
        type=float,
        help="one row at this evaluation median instead of the --loads sweep",
    )
    parser.add_argument("--eval-sigma", type=float, default=0.5, help="lognormal sigma")
    parser.add_argument("--llm-median-s", type=float, default=0.02, help="LLM latency median")
    parser.add_argument("--llm-sigma", type=float, default=0.5, help="lognormal sigma")
    parser.add_argument(
        "--seconds", type=float, default=3.0, help="window: this many seconds of the ideal rate"
    )
    parser.add_argument(
        "--profile",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="profile one run at --profile-load (default: on)",
    )
    parser.add_argument("--profile-load", type=float, help="default: the highest load")
    parser.add_argument(
        "--profile-clock",
        choices=("cpu", "wall"),
        default="wall",
        help="the profiler's clock: the event-loop thread's CPU, or wall time",
    )
    parser.add_argument(
        "--quick", action="store_true", help="loads 1000,4000 and 1 s windows (< 1 min)"
    )
    args = parser.parse_args()
    if args.quick:
        args.loads, args.seconds = "1000,4000", 1.0
    if args.eval_median_s is not None:
        medians = [args.eval_median_s]
    else:
        medians = [eval_median_for(float(s), args) for s in args.loads.split(",")]
    llm_capacity = args.proposals / lognormal_mean(args.llm_median_s, args.llm_sigma)
    print(
        f"Simulated cluster: {args.workers:,} workers (one timer thread, evaluation latency "
        f"lognormal, sigma {args.eval_sigma}, median per row), simulated LLM with "
        f"{args.proposals} calls in flight (latency lognormal, median "
        f"{1000 * args.llm_median_s:g} ms, sigma {args.llm_sigma}: <= {llm_capacity:,.0f} "
        f"proposals/s); real controller (pipeline), database and store, "
        f"{STARTING_PROGRAMS:,} starting programs; {os.cpu_count()} CPUs, "
        f"Python {sys.version.split()[0]}."
    )
    print()
    rows = []
    for median in medians:
        ideal = min(llm_capacity, args.workers / lognormal_mean(median, args.eval_sigma))
        rows.append(measure(args, median, window_for(ideal, args)))
    print_rows(rows, args)
    if args.profile:
        if args.profile_load is not None:
            median = eval_median_for(args.profile_load, args)
        else:
            median = min(medians)
        ideal = min(llm_capacity, args.workers / lognormal_mean(median, args.eval_sigma))
        # Wall time by default (cProfile's own, cheap clock; it shows blocking waits
        # such as fsync too); "cpu" (the loop thread's CPU) when other processes
        # share the cores, at about 3x the profiler's overhead.
        profiler = cProfile.Profile(time.thread_time)
        if args.profile_clock == "wall":
            profiler = cProfile.Profile()  # cProfile's own clock: the least overhead
        row = measure(args, median, min(PROFILE_WINDOW, window_for(ideal, args)), profiler)
        print_profile(profiler, row, args.profile_clock)


if __name__ == "__main__":
    main()
