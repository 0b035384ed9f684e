"""evolve vs OpenEvolve, side by side, on the same "model" and the same scorers.

Both frameworks talk to one offline mutator server (``evolve mutator serve
--port 0 --vary --log-requests``, started here in a process of its own), run on
this machine with 2 evaluation workers, one after the other, in this one script:

1. **Throughput**: a trivial scorer (reads the numbers in the program), the same
   OpenEvolve-layout folder for both. evolve scores every candidate in its
   process sandbox; OpenEvolve runs the evaluator in its worker processes with
   no sandbox, with its default database (1,000 programs kept; another size with
   ``--openevolve-population``). Reported: wall time, iterations/s overall and
   over the first and last 10% of each run (read from the server's request
   count, one log line per chat request), time per candidate, and the ratio.

   Then **where the CPU goes**, in ms of CPU per candidate (iteration):

   * *sandbox*: the CPU of evolve's process tree minus that of the evolve
     process itself: the fork server, one supervisor per job, the harness and
     the scorer (the candidate's run). The tree is counted by a cgroup v1
     ``cpuacct`` group the run is started in (root, with that hierarchy
     mounted): every descendant stays in it whatever the sandbox does with it
     (the sandbox only moves jobs between ``cpu`` cgroups, a separate
     hierarchy). ``wait4``'s rusage of the run is printed beside it and misses
     most of it: the fork server ignores SIGCHLD, so the kernel reaps the job
     supervisors and their CPU never reaches any parent's rusage. Where no
     cpuacct group can be made, the tree is sampled from /proc every 50 ms
     instead, marked "sampled": a lower bound (shorter-lived processes are
     missed).
   * *LLM client*: evolve's real ``LLMProposer`` (``build_proposer`` with the
     run's settings: OpenAI client, M calls in flight) calibrated in a fresh
     process: it makes a few hundred proposals against the same server, with
     parents and inspirations taken from the run just measured (so the prompts
     are the run's size: both mean prompt sizes are printed); its process CPU
     over the calls (``time.process_time``, after warm-up calls, imports
     excluded) divided by the calls. That is prompt building (its share is
     measured apart and printed), request, HTTP, JSON and pydantic decoding,
     and the call's accounting. Per call x the run's calls (its ``llm: N
     calls`` line).
   * *controller*: the evolve process's own CPU (user + system, all threads,
     read from /proc/PID/stat after it exits and before it is reaped, so
     start-up, imports and the final save count) minus the LLM client. Shown
     in two parts: the event loop (the main thread, /proc/PID/task/PID/stat,
     minus the LLM client: pipeline, database, edits, run store) and the
     evaluation threads (the rest of the process: the sandbox's host side,
     which writes each job's files, talks to the fork server and reads the
     envelope). Its fixed part (start-up, imports, seed, final save) is
     measured by a 1-iteration run and given under the table, with the
     per-candidate figure without it.
   * *mutator server*: the CPU of the server's process during the run, per
     request (its idle poll and the request log line included: a few us).

   For OpenEvolve the same measures where they apply: its main process (its
   controller and LLM client, not split), its worker processes (the
   evaluator) and the server. Under the table, for each run: the cores it kept
   busy (CPU / wall) and what other processes used of this machine's CPUs
   meanwhile (/proc/stat, this process excluded), as a shared machine slows
   either framework.
2. **Search quality**: best score after N evaluations on function_minimization
   and bin_packing_or3, median over seeds. evolve runs its own problem folder
   (its database settings); OpenEvolve runs a copy with an evaluator.py that
   calls the very same scorer.

    .venv/bin/python benchmarks/vs_openevolve.py          # 1k and 3k throughput, 5 seeds x 300
    .venv/bin/python benchmarks/vs_openevolve.py --quick  # < 2 min: 300 iterations, 1 seed x 60
    .venv/bin/python benchmarks/vs_openevolve.py --part throughput --iterations 3000
    .venv/bin/python benchmarks/vs_openevolve.py --part quality --seeds 5 --evaluations 300

OpenEvolve is installed from PyPI into .bench/openevolve-venv on first use.
Goal (issue 8): evolve >= 6x OpenEvolve's throughput over a 3,000-iteration run,
every candidate sandboxed; a better median best score on both problems.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._cpu import Measured, machine_cpu_s, own_cpu_s, proc_cpu_s, run_measured
from benchmarks._peers import (
    ROOT,
    adapted_problem,
    config_yaml,
    openevolve_bin,
    openevolve_version,
    trivial_problem,
)

WORKERS = 2
EVOLVE = ROOT / ".venv" / "bin" / "evolve"
# The pipeline's defaults otherwise: M = [llm] max_concurrency (4) proposals in
# flight, Q = K children queued. More proposals do not help here: the progress
# line shows the queue full and no proposal waited on, and --proposals 8 ran at
# the same rate within noise (19-24 it/s either way over 400 iterations).
EVOLVE_FLAGS = ("--concurrency", str(WORKERS), "--sandbox", "process")
CALIBRATION_CALLS = 300
CALIBRATION_IN_FLIGHT = 4  # as the run: M = [llm] max_concurrency


# -- the mutator server, in its own process ------------------------------------


class ServerProcess:
    """``evolve mutator serve`` in a process of its own, so its CPU is its own.

    Requests are counted from its request log (one stderr line per request),
    read here by a thread; ``cpu_s`` is the process's CPU so far.
    """

    def __init__(self) -> None:
        self._proc = subprocess.Popen(
            [str(EVOLVE), "mutator", "serve", "--port", "0", "--vary", "--log-requests"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert self._proc.stdout is not None and self._proc.stderr is not None
        self.base_url = self._proc.stdout.readline().strip()
        if not self.base_url.startswith("http"):
            self._proc.kill()
            raise RuntimeError(f"the mutator server did not start: {self._proc.stderr.read()}")
        self._lock = threading.Lock()
        self._requests = 0
        self._reader = threading.Thread(target=self._read, args=(self._proc.stderr,), daemon=True)
        self._reader.start()

    def _read(self, stream: Any) -> None:
        for line in stream:
            if '"POST /v1/chat/completions' in line:
                with self._lock:
                    self._requests += 1

    @property
    def requests(self) -> int:
        """Chat-completion requests answered so far."""
        with self._lock:
            return self._requests

    def cpu_s(self) -> float:
        return proc_cpu_s(self._proc.pid)

    def settle(self, timeout_s: float = 2.0) -> None:
        """Wait until the request count stops moving (the log is read a little late)."""
        deadline = time.monotonic() + timeout_s
        last = -1
        while time.monotonic() < deadline and self.requests != last:
            last = self.requests
            time.sleep(0.1)

    def close(self) -> None:
        self._proc.terminate()
        try:
            self._proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()


class Counted(Protocol):
    @property
    def requests(self) -> int: ...


@dataclass(frozen=True)
class Window:
    """What the server and the machine did while one run went on."""

    requests: int
    server_s: float
    machine_s: float
    steal_s: float
    bench_s: float


class Watch:
    """The server's requests and CPU, and this machine's, over a ``with`` block."""

    def __init__(self, server: ServerProcess) -> None:
        self.server = server

    def __enter__(self) -> Watch:
        self._start = self._now()
        return self

    def _now(self) -> tuple[int, float, float, float, float]:
        busy, steal = machine_cpu_s()
        return self.server.requests, self.server.cpu_s(), busy, steal, own_cpu_s()

    def __exit__(self, *exc: object) -> None:
        self.server.settle()
        end = self._now()
        requests, server, machine, steal, bench = (
            b - a for a, b in zip(self._start, end, strict=True)
        )
        self.window = Window(int(requests), server, machine, steal, bench)


# -- the two frameworks --------------------------------------------------------


def run_openevolve(
    folder: Path,
    api_base: str,
    iterations: int,
    seed: int,
    out: Path,
    population: int | None = 100_000,
) -> Measured:
    """One OpenEvolve run (``population``: see ``config_yaml``)."""
    config = config_yaml(api_base, seed, iterations, WORKERS, population)
    (folder / "config.yaml").write_text(config)
    return run_measured(
        [
            str(openevolve_bin()),
            str(folder / "initial_program.py"),
            str(folder / "evaluator.py"),
            "--config",
            str(folder / "config.yaml"),
            "--iterations",
            str(iterations),
            "--output",
            str(out),
        ],
        cwd=folder,
        name=f"oe-{out.name}",
    )


def openevolve_best(out: Path) -> float | None:
    """The best combined_score OpenEvolve saved for a run."""
    info = out / "best" / "best_program_info.json"
    if not info.exists():
        return None
    metrics = json.loads(info.read_text()).get("metrics", {})
    value = metrics.get("combined_score")
    return None if value is None else float(value)


def run_evolve(folder: Path, api_base: str, iterations: int, seed: int, out: Path) -> Measured:
    """One evolve run against the same server."""
    return run_measured(
        [
            str(EVOLVE),
            "run",
            str(folder),
            "--model",
            "evolve-offline",
            "--base-url",
            api_base,
            "--api-key-env",
            "",
            "--iterations",
            str(iterations),
            "--seed",
            str(seed),
            *EVOLVE_FLAGS,
            "--out",
            str(out),
        ],
        name=f"ev-{out.name}",
    )


def evolve_best(stdout: str) -> float | None:
    match = re.search(r"best score: (\S+)", stdout)
    return float(match.group(1)) if match else None


def evolve_calls(stdout: str) -> int:
    match = re.search(r"llm: (\d+) calls", stdout)
    return int(match.group(1)) if match else 0


class RequestClock:
    """Samples the server's count of chat requests every 20 ms while a run goes on.

    One request is one iteration for both frameworks, so the same clock gives
    either one's rate early and late in a run without touching its code or logs.
    """

    def __init__(self, server: Counted) -> None:
        self._server = server
        self._samples: list[tuple[float, int]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.is_set():
            self._samples.append((time.perf_counter(), self._server.requests))
            self._stop.wait(0.02)

    def __enter__(self) -> RequestClock:
        self._base = self._server.requests
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self._samples.append((time.perf_counter(), self._server.requests))

    def rate(self, lo: float, hi: float, total: int) -> float:
        """Requests per second while the run went from ``lo`` to ``hi`` of ``total``."""
        a = max(self._base + lo * total, self._base + 1)  # from the first request on
        b = self._base + hi * total
        t_a = next((t for t, n in self._samples if n >= a), self._samples[-1][0])
        t_b = next((t for t, n in self._samples if n >= b), self._samples[-1][0])
        return (b - a) / max(t_b - t_a, 1e-9)


def sandbox_ms(out: Path) -> float:
    """Mean time a candidate spent in evolve's sandbox (the store's wall_time_s)."""
    from evolve import Run

    frame = Run.open(out).programs
    return 1000 * float(frame["wall_time_s"].iloc[1:].mean())


# -- the LLM client's CPU per call, calibrated in a fresh process --------------


def calibrate_client(
    problem: Path, run_dir: Path, base_url: str, calls: int, in_flight: int
) -> dict[str, float]:
    """In this (fresh) process: evolve's LLM proposer makes ``calls`` proposals
    at the server, ``in_flight`` at once, with parents and inspirations drawn
    from ``run_dir``'s programs; its CPU per call, and that of prompt building."""
    import asyncio
    import dataclasses
    import random

    from evolve import Run
    from evolve.config import load_problem
    from evolve.mutation.protocol import MutationError
    from evolve.mutation.setup import build_proposer, resolve_llm_config, settings_for
    from evolve.records import Program, Status

    spec = load_problem(problem)
    config = resolve_llm_config(spec, "evolve-offline", base_url=base_url, api_key_env="")
    assert config is not None
    config = dataclasses.replace(config, max_concurrency=in_flight)
    run = Run.open(run_dir)
    frame = run.programs
    frame = frame[frame["status"] == "ok"].tail(64)
    programs = [
        Program(
            id=str(row.id),
            code=run.code(str(row.id)),
            generation=int(row.generation),
            status=Status.OK,
            metrics={"combined_score": float(row.score)},
            score=float(row.score),
            fitness=float(row.fitness),
        )
        for row in frame.itertuples()
    ]
    rng = random.Random(0)
    warmup = 20
    draws = [
        (rng.choice(programs), tuple(rng.sample(programs, min(3, len(programs)))))
        for _ in range(warmup + calls)
    ]
    with tempfile.TemporaryDirectory() as tmp:
        proposer = build_proposer(settings_for(config, False, None), spec, Path(tmp))
        assert hasattr(proposer, "calls") and hasattr(proposer, "prompts")

        async def propose(i: int, limit: asyncio.Semaphore) -> None:
            async with limit:
                parent, inspirations = draws[i]
                with contextlib.suppress(MutationError):
                    await proposer.propose(parent, inspirations, seed=i)

        async def measure() -> tuple[float, float]:
            limit = asyncio.Semaphore(in_flight)
            await asyncio.gather(*(propose(i, limit) for i in range(warmup)))
            proposer.calls.clear()
            cpu, wall = time.process_time(), time.perf_counter()
            await asyncio.gather(*(propose(i, limit) for i in range(warmup, warmup + calls)))
            cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
            await proposer.aclose()
            return cpu, wall

        cpu, wall = asyncio.run(measure())
        made = len(proposer.calls)
        prompt_tokens = statistics.fmean(c.prompt_tokens for c in proposer.calls)
        prompt_cpu = time.process_time()
        for i in range(warmup, warmup + calls):
            parent, inspirations = draws[i]
            proposer.prompts.build(parent, inspirations, "diff")
        prompt_cpu = time.process_time() - prompt_cpu
    return {
        "calls": made,
        "ms_per_call": 1000 * cpu / max(made, 1),
        "prompt_ms_per_call": 1000 * prompt_cpu / calls,
        "wall_s": wall,
        "prompt_tokens": prompt_tokens,
    }


@dataclass(frozen=True)
class Calibration:
    ms_per_call: float
    prompt_ms_per_call: float
    calls: int
    prompt_tokens: float
    run_prompt_tokens: float
    server_ms_per_request: float


def client_calibration(server: ServerProcess, problem: Path, run_dir: Path) -> Calibration:
    """Run ``calibrate_client`` in a fresh interpreter against ``server``."""
    from evolve import Run

    with Watch(server) as watch:
        done = subprocess.run(
            [
                sys.executable,
                str(Path(__file__).resolve()),
                "--calibrate-client",
                json.dumps([str(problem), str(run_dir), server.base_url]),
            ],
            capture_output=True,
            text=True,
        )
    if done.returncode != 0:
        raise RuntimeError(f"client calibration failed: {done.stderr[-2000:]}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    calls = Run.open(run_dir).llm_calls
    return Calibration(
        result["ms_per_call"],
        result["prompt_ms_per_call"],
        int(result["calls"]),
        result["prompt_tokens"],
        float(calls["prompt_tokens"].mean()),
        1000 * watch.window.server_s / max(watch.window.requests, 1),
    )


# -- the throughput part -------------------------------------------------------


@dataclass(frozen=True)
class CpuRow:
    part: str
    cpu_s: float
    detail: bool = False  # a part of the row above: shown, not added to the total


@dataclass(frozen=True)
class CpuSplit:
    """One run's CPU by part, and what is said under the table about it."""

    framework: str
    iterations: int
    rows: list[CpuRow]
    wall_s: float
    window: Window
    notes: list[str]

    def print_rows(self) -> None:
        n = self.iterations
        total = sum(r.cpu_s for r in self.rows if not r.detail)
        for r in self.rows:
            part = f"&nbsp;&nbsp;of which {r.part}" if r.detail else r.part
            print(
                f"| {n} | {self.framework} | {part} | {r.cpu_s:.2f} | {1000 * r.cpu_s / n:.2f} "
                f"| {100 * r.cpu_s / max(total, 1e-9):.0f}% |"
            )
        print(
            f"| {n} | {self.framework} | **total** | **{total:.2f}** "
            f"| **{1000 * total / n:.2f}** | 100% |"
        )

    def print_notes(self) -> None:
        total = sum(r.cpu_s for r in self.rows if not r.detail)
        w = self.window
        others = max(w.machine_s - total - w.bench_s, 0.0)
        cores = len(os.sched_getaffinity(0))
        print(
            f"* {self.framework}, {self.iterations}: {total / self.wall_s:.2f} of {cores} "
            f"cores busy with it over {self.wall_s:.1f} s; other processes on these CPUs "
            f"{others / self.wall_s:.2f} cores, steal {w.steal_s / self.wall_s:.2f}; "
            + "; ".join(self.notes)
        )


def server_row(w: Window) -> CpuRow:
    per = 1000 * w.server_s / max(w.requests, 1)
    return CpuRow(f"mutator server ({per:.2f} ms x {w.requests} requests)", w.server_s)


def throughput(
    server: ServerProcess,
    iteration_counts: list[int],
    work: Path,
    openevolve_max: int,
    population: int | None,
) -> None:
    flags = " ".join(EVOLVE_FLAGS)
    print(
        f"## Throughput (trivial scorer, {WORKERS} workers, same mutator server; "
        f"`evolve run {flags}`, pipeline defaults otherwise: M = 4 LLM calls, Q = K)\n"
    )
    header = (
        "| iterations | framework | wall s | it/s | it/s first 10% | it/s last 10% "
        "| ms per candidate-slot | of which in the sandbox | evolve / OpenEvolve |"
    )
    wall_rows: list[str] = []
    splits: list[CpuSplit] = []
    kept = f"keeps {population:,}" if population else "default: keeps 1,000"
    # evolve's fixed CPU (start-up, imports, seed, final save): a 1-iteration run.
    fixed = run_evolve(trivial_problem(work / "trivial-1"), server.base_url, 1, 0, work / "ev-1")
    for n in iteration_counts:
        folder = trivial_problem(work / f"trivial-{n}")
        oe = None
        if n <= openevolve_max:
            out = work / f"oe-trivial-{n}"
            with RequestClock(server) as clock, Watch(server) as watch:
                oe = run_openevolve(folder, server.base_url, n, 0, out, population)
            wall_rows.append(
                f"| {n} | OpenEvolve ({kept}) | {oe.wall_s:.1f} | {n / oe.wall_s:.1f} "
                f"| {clock.rate(0, 0.1, n):.1f} "
                f"| {clock.rate(0.9, 1.0, n):.1f} | {1000 * WORKERS * oe.wall_s / n:.1f} "
                "| (unsandboxed) | |"
            )
            rows = [
                CpuRow("main process (controller + LLM client)", oe.self_s),
                CpuRow(f"worker processes (the evaluator; {oe.method})", oe.descendants_s),
                server_row(watch.window),
            ]
            notes = [f"wait4 rusage {oe.rusage_s:.2f} s"]
            splits.append(CpuSplit("OpenEvolve", n, rows, oe.wall_s, watch.window, notes))
        out = work / f"ev-trivial-{n}"
        with RequestClock(server) as clock, Watch(server) as watch:
            ev = run_evolve(folder, server.base_url, n, 0, out)
        ratio = f"**{oe.wall_s / ev.wall_s:.1f}x**" if oe else "(OpenEvolve not run)"
        wall_rows.append(
            f"| {n} | evolve | {ev.wall_s:.1f} | {n / ev.wall_s:.1f} "
            f"| {clock.rate(0, 0.1, n):.1f} "
            f"| {clock.rate(0.9, 1.0, n):.1f} | {1000 * WORKERS * ev.wall_s / n:.1f} "
            f"| {sandbox_ms(out):.1f} | {ratio} |"
        )
        calls = evolve_calls(ev.stdout)
        cal = client_calibration(server, folder, out)
        client_s = cal.ms_per_call * calls / 1000
        fixed_s = fixed.self_s - cal.ms_per_call * evolve_calls(fixed.stdout) / 1000
        threads_s = ev.self_s - ev.main_thread_s
        controller_s = ev.self_s - client_s
        rows = [
            CpuRow("controller (evolve process minus LLM client)", controller_s),
            CpuRow("event loop (main thread minus LLM client)", controller_s - threads_s, True),
            CpuRow("evaluation threads (the sandbox's host side)", threads_s, True),
            CpuRow(f"LLM client ({cal.ms_per_call:.2f} ms x {calls} calls)", client_s),
            CpuRow(
                f"sandbox (fork server, supervisors, scorer; {ev.method}; "
                f"{100 * ev.descendants_sys_share:.0f}% in the kernel)",
                ev.descendants_s,
            ),
            server_row(watch.window),
        ]
        notes = [
            f"the controller's fixed part (start-up, imports, seed, final save: a 1-iteration "
            f"run) {fixed_s:.2f} s, {1000 * (controller_s - fixed_s) / n:.2f} ms per candidate "
            "without it",
            f"LLM client calibrated over {cal.calls} calls (prompt building "
            f"{cal.prompt_ms_per_call:.2f} ms of the {cal.ms_per_call:.2f} ms; prompts "
            f"{cal.prompt_tokens:.0f} tokens, the run's {cal.run_prompt_tokens:.0f}; server "
            f"{cal.server_ms_per_request:.2f} ms per request meanwhile)",
            f"wait4 rusage {ev.rusage_s:.2f} s, of which descendants only "
            f"{ev.rusage_s - ev.self_s:.2f} s (job supervisors are reaped by the kernel)",
        ]
        splits.append(CpuSplit("evolve", n, rows, ev.wall_s, watch.window, notes))
    print(header)
    print("|---:|---|---:|---:|---:|---:|---:|---:|---:|")
    for row in wall_rows:
        print(row)
    print("\n### CPU per candidate\n")
    print("| iterations | framework | part | CPU s | ms CPU per candidate | share |")
    print("|---:|---|---|---:|---:|---:|")
    for split in splits:
        split.print_rows()
    print()
    for split in splits:
        split.print_notes()
    print()


PROBLEMS = {
    "function_minimization": ("score", True),
    "bin_packing_or3": ("excess_pct", False),
}


def quality(api_base: str, seeds: int, evaluations: int, work: Path) -> None:
    print(
        f"## Search quality: best score after {evaluations} evaluations, median of {seeds} seeds\n"
    )
    print("| problem | direction | OpenEvolve median (runs) | evolve median (runs) | better |")
    print("|---|---|---:|---:|---|")
    for name, (metric, maximize) in PROBLEMS.items():
        source = ROOT / "problems" / name
        oe_scores, ev_scores = [], []
        for seed in range(seeds):
            folder = adapted_problem(source, work / f"oe-{name}-{seed}", metric, maximize)
            out = work / f"oe-out-{name}-{seed}"
            run_openevolve(folder, api_base, evaluations, seed, out)
            best = openevolve_best(out)
            if best is not None:
                oe_scores.append(best if maximize else -best)
            ev = run_evolve(source, api_base, evaluations, seed, work / f"ev-{name}-{seed}")
            value = evolve_best(ev.stdout)
            if value is not None:
                ev_scores.append(value)
        oe_med = statistics.median(oe_scores) if oe_scores else float("nan")
        ev_med = statistics.median(ev_scores) if ev_scores else float("nan")
        better = (ev_med > oe_med) if maximize else (ev_med < oe_med)
        winner = "evolve" if better else "OpenEvolve"
        print(
            f"| {name} ({metric}) | {'max' if maximize else 'min'} | {oe_med:.4f} "
            f"({', '.join(f'{s:.4f}' for s in oe_scores)}) | {ev_med:.4f} "
            f"({', '.join(f'{s:.4f}' for s in ev_scores)}) | {winner} |"
        )
    print()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=["all", "throughput", "quality"], default="all")
    parser.add_argument("--iterations", default="1000,3000", help="throughput run lengths")
    parser.add_argument(
        "--openevolve-max",
        type=int,
        default=3000,
        help="longest throughput run given to OpenEvolve (its rate falls as it grows)",
    )
    parser.add_argument(
        "--openevolve-population",
        type=int,
        default=0,
        help="OpenEvolve's population_size in the throughput runs (0: its default, 1,000)",
    )
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--evaluations", type=int, default=300)
    parser.add_argument("--quick", action="store_true", help="300 iterations; 1 seed x 60")
    # Internal: the LLM client's calibration, run in a fresh interpreter.
    parser.add_argument("--calibrate-client", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.calibrate_client is not None:
        problem, run_dir, base_url = json.loads(args.calibrate_client)
        result = calibrate_client(
            Path(problem), Path(run_dir), base_url, CALIBRATION_CALLS, CALIBRATION_IN_FLIGHT
        )
        print(json.dumps(result))
        return
    if args.quick:
        args.iterations, args.seeds, args.evaluations = "300", 1, 60
    openevolve_bin()
    print(
        f"OpenEvolve {openevolve_version()} (PyPI, own venv) vs evolve (this checkout); "
        f"{time.strftime('%Y-%m-%d')}\n"
    )
    server = ServerProcess()
    try:
        with tempfile.TemporaryDirectory(prefix="evolve-vs-oe-") as tmp:
            work = Path(tmp)
            if args.part in ("all", "throughput"):
                counts = [int(n) for n in args.iterations.split(",")]
                population = args.openevolve_population or None
                throughput(server, counts, work, args.openevolve_max, population)
            if args.part in ("all", "quality"):
                quality(server.base_url, args.seeds, args.evaluations, work)
    finally:
        server.close()


if __name__ == "__main__":
    main()
