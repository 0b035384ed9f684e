"""The pipeline (K evaluations and M proposals in flight) against the coupled schedule.

Every cell is a real ``evolve run`` (a subprocess, process sandbox) against a real
OpenAI-compatible server: the offline mutator served from this process with a
fixed latency L per completion (``evolve mutator serve --latency L``). The scorer
sleeps E seconds (sleep-bound: an evaluation that waits on a GPU, a remote job,
a simulator) or burns E seconds of CPU (CPU-bound). Parts:

1. ``grid``: L x E x M x K. The ideal rate of a pipeline is min(M/L, K/E); on this
   machine there is also a CPU limit (each evaluation forks a sandbox and runs the
   harness; each proposal is an HTTP call, an edit and a dedup), measured first
   with L = E = 0, and for CPU-bound scorers cores/E. Per cell: evaluations/s
   measured, the ideal (``cpu`` where the machine's limit binds), the ratio and
   the median staleness, for the pipeline at each M and for the coupled schedule
   (each of K slots proposes, then evaluates: M does not apply), side by side.
2. ``fanout``: 128 evaluations in flight, a 1 s sleep scorer, local executor and
   Ray (one local node started with 128 logical CPUs). Ideal 128/s.
3. ``quality``: best score after 300 evaluations at M = 2, 8, 32 (the served
   offline mutator with a latency, so M calls really are in flight and children
   really are sampled from older populations), 5 seeds, medians, on
   function_minimization and bin_packing_or3.

How a rate is measured: evaluations complete in groups (K at a time when the
evaluators bind, M at a time when the LLM does), so a rate over the first
completions would count a whole group in no time. The rate is the completions
after the first group divided by the time from that group's last completion to
the run's last one, ``(N - g) / (t_N - t_g)``: this measures the steady state,
after the pipeline filled (start-up, the seed, the first L + E are left out).
Completion times are the ``evaluations`` table's ``finished_at``.

    .venv/bin/python benchmarks/pipeline.py                 # all parts (~40 min here)
    .venv/bin/python benchmarks/pipeline.py --part grid --quick
    .venv/bin/python benchmarks/pipeline.py --part fanout --part quality

Targets (issue 14): >= 90 % of the ideal in every grid cell whose ideal is below
the CPU limit, and at 128 in flight on both executors; search quality at M = 8 and
32 within seed noise of M = 2.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from evolve.records import EventKind
from evolve.store import RunStore
from evolve.testing.app import MutatorServer, serve_in_thread

ROOT = Path(__file__).resolve().parents[1]
EVOLVE = ROOT / ".venv" / "bin" / "evolve"
CORES = os.cpu_count() or 1
STEADY_S = 5.0  # seconds of ideal-rate steady state each grid cell runs for
MIN_GROUPS = 8  # ... and at least this many completion groups

# Several constants: the offline mutator's edits rarely give a duplicate.
SEED = textwrap.dedent(
    """\
    # EVOLVE-BLOCK-START
    def value():
        a = 1.0
        b = 2.0
        c = 3.0
        d = 4.0
        return a + b * c - d
    # EVOLVE-BLOCK-END
    """
)
SCORER = textwrap.dedent(
    """\
    import importlib.util
    import time

    SECONDS = {seconds!r}
    BURN = {burn!r}


    def evaluate(program_path):
        started = time.process_time()
        if BURN:
            while time.process_time() - started < SECONDS:
                pass
        elif SECONDS:
            time.sleep(SECONDS)
        spec = importlib.util.spec_from_file_location("candidate", program_path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return {{"score": -abs(module.value() - 10.0)}}
    """
)
TOML = textwrap.dedent(
    """\
    name = "pipeline-bench"

    [objective]
    metric = "score"
    direction = "maximize"

    [evaluation]
    timeout_s = 60
    """
)


@dataclass(frozen=True)
class Scorer:
    seconds: float
    burn: bool  # CPU-bound (else sleep-bound)

    @property
    def label(self) -> str:
        return f"{self.seconds:g} s {'CPU' if self.burn else 'sleep'}"


def write_problem(folder: Path, scorer: Scorer) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "problem.toml").write_text(TOML)
    (folder / "initial.py").write_text(SEED)
    (folder / "scorer.py").write_text(SCORER.format(seconds=scorer.seconds, burn=scorer.burn))
    return folder


@dataclass(frozen=True)
class Measured:
    rate: float  # evaluations/s in the steady state
    evaluations: int
    duplicates: int
    dropped: int  # children over the staleness cap, not evaluated
    staleness: float | None  # median over evaluated children
    wall_s: float


def evolve_run(
    problem: Path,
    out: Path,
    server: MutatorServer | None,
    iterations: int,
    k: int,
    *extra: str,
    timeout_s: float = 600.0,
) -> float:
    """One `evolve run`; returns its wall time. ``server`` None: offline mutator."""
    command = [
        str(EVOLVE),
        "run",
        str(problem),
        "--iterations",
        str(iterations),
        "--concurrency",
        str(k),
        "--sandbox",
        "process",
        "--out",
        str(out),
        *extra,
    ]
    if server is not None:
        command += ["--model", server.model, "--base-url", server.base_url, "--api-key-env", ""]
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, timeout=timeout_s, cwd=ROOT)
    if done.returncode:
        raise SystemExit(f"{' '.join(command)} failed:\n{done.stderr[-3000:]}")
    return time.perf_counter() - started


def measure(out: Path, group: int, wall_s: float) -> Measured:
    store = RunStore.open(out)
    evaluations = store.read_table("evaluations", columns=["iteration", "finished_at"]).to_pylist()
    finished = sorted(r["finished_at"] for r in evaluations if r["iteration"] > 0)
    programs = store.read_table(
        "programs", columns=["iteration", "duplicate_of", "staleness"]
    ).to_pylist()
    children = [p for p in programs if p["iteration"] > 0]
    stale = [p["staleness"] for p in children if p["staleness"] is not None]
    n, g = len(finished), min(group, len(finished) - 1)
    # after the first group: (N - g) completions from t_g to t_N (1-based)
    rate = (n - g) / (finished[-1] - finished[g - 1]) if g >= 1 else float("nan")
    return Measured(
        rate=rate,
        evaluations=len(finished),
        duplicates=sum(p["duplicate_of"] is not None for p in children),
        dropped=sum(
            e["kind"] == EventKind.STALE_DROPPED.value
            for e in store.read_table("events", columns=["kind"]).to_pylist()
        ),
        staleness=statistics.median(stale) if stale else None,
        wall_s=wall_s,
    )


def ideal_rate(latency: float, m: int, k: int, scorer: Scorer) -> float:
    supply = math.inf if latency == 0 else m / latency
    demand = math.inf if scorer.seconds == 0 else k / scorer.seconds
    return min(supply, demand)


def run_cell(
    work: Path,
    server: MutatorServer,
    scorer: Scorer,
    latency: float,
    k: int,
    m: int,
    schedule: str,
    ideal: float,
) -> Measured:
    """One run sized for ~STEADY_S of steady state (at least MIN_GROUPS groups)."""
    supply = math.inf if latency == 0 else (m if schedule == "pipeline" else k) / latency
    evaluators_bind = k / max(scorer.seconds, 1e-9) <= supply
    group = k if evaluators_bind or schedule == "coupled" else m
    groups = max(MIN_GROUPS, math.ceil(ideal * STEADY_S / group))
    iterations = group * (groups + 1)
    out = work / f"run-{len(list(work.glob('run-*')))}"
    problem = write_problem(work / "problem", scorer)
    wall = evolve_run(
        problem,
        out,
        server,
        iterations,
        k,
        "--schedule",
        schedule,
        "--proposals",
        str(m if schedule == "pipeline" else k),
    )
    result = measure(out, group, wall)
    shutil.rmtree(out, ignore_errors=True)
    return result


CPU_LIMIT_K = 16  # enough evaluations in flight that the sandbox's latency does not bind


def cpu_limit(work: Path, server: MutatorServer) -> float:
    """Evaluations/s this machine sustains with L = E = 0 and many in flight
    (K = CPU_LIMIT_K, M = 2K): what the CPUs allow, not a latency."""
    server.latency_s = 0.0
    scorer = Scorer(0.0, burn=False)
    out = work / "cpu-limit"
    problem = write_problem(work / "problem", scorer)
    wall = evolve_run(problem, out, server, 600, CPU_LIMIT_K, "--proposals", str(2 * CPU_LIMIT_K))
    rate = measure(out, CPU_LIMIT_K, wall).rate
    shutil.rmtree(out, ignore_errors=True)
    return rate


def sandbox_latency(work: Path, server: MutatorServer) -> float:
    """Seconds one evaluation slot is busy beyond the scorer's own E: K = 1,
    L = E = 0 (M = 2, so proposals are never what it waits on). The sandbox's
    start and teardown, the harness, recording: what every evaluation pays."""
    server.latency_s = 0.0
    out = work / "latency"
    problem = write_problem(work / "problem", Scorer(0.0, burn=False))
    wall = evolve_run(problem, out, server, 60, 1, "--proposals", "2")
    rate = measure(out, 1, wall).rate
    shutil.rmtree(out, ignore_errors=True)
    return 1.0 / rate


def costed_ideal(
    latency: float, m: int, k: int, scorer: Scorer, overhead_s: float, cpu_limit: float, dup: float
) -> float:
    """The ideal once this machine's two fixed costs are counted: each
    evaluation keeps its slot ``overhead_s`` longer than E (``sandbox_latency``),
    and a duplicate proposal uses an LLM call but gives no evaluation (``dup``:
    its share of the proposals). CPU-bound: each evaluation also needs the CPU
    the limit measured (cores / limit) beside its E."""
    supply = math.inf if latency == 0 else m / latency * (1.0 - dup)
    demand = k / (scorer.seconds + overhead_s)
    machine = CORES / (scorer.seconds + CORES / cpu_limit) if scorer.burn else cpu_limit
    return min(supply, demand, machine)


def _pct(x: float) -> str:
    return f"{100 * x:.0f} %"


SCORERS = {
    "0.01": Scorer(0.01, False),
    "0.5": Scorer(0.5, False),
    "2": Scorer(2.0, False),
    "0.2cpu": Scorer(0.2, True),
}


def grid(work: Path, quick: bool, only: list[str] | None = None) -> None:
    latencies = [0.0, 2.0] if quick else [0.0, 0.5, 2.0]
    names = only or (["0.5", "0.2cpu"] if quick else list(SCORERS))
    scorers = [SCORERS[name] for name in names]
    ms = [2, 8] if quick else [2, 8, 32]
    ks = [2] if quick else [2, 32]
    with serve_in_thread(vary=True) as server:
        limit = cpu_limit(work, server)
        overhead_s = sandbox_latency(work, server)
        print(
            f"\nCPU limit of this machine ({CORES} cores; L = E = 0, K = {CPU_LIMIT_K}, "
            f"M = {2 * CPU_LIMIT_K}): {limit:.1f} evaluations/s; an evaluation slot is busy "
            f"{1000 * overhead_s:.0f} ms beyond E (K = 1, L = E = 0)\n"
        )
        print(
            "| L (s) | E | K | M | ideal /s | pipeline /s | ratio | staleness (median) "
            "| duplicates + dropped / evaluated | ideal with the slot's extra time and "
            "the duplicates /s | ratio to it "
            "| coupled /s | coupled ratio | pipeline / coupled |"
        )
        print("|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        for latency in latencies:
            server.latency_s = latency
            for scorer in scorers:
                for k in ks:
                    if k > CORES and scorer.burn:
                        continue  # K = 32 only with sleep-bound scorers
                    coupled: Measured | None = None
                    for m in ms:
                        ideal = ideal_rate(latency, m, k, scorer)
                        machine = CORES / scorer.seconds if scorer.burn else limit
                        binds = machine < ideal
                        target = min(ideal, machine)
                        piped = run_cell(work, server, scorer, latency, k, m, "pipeline", target)
                        if coupled is None:
                            coupled = run_cell(
                                work, server, scorer, latency, k, k, "coupled", target
                            )
                        stale = "-" if piped.staleness is None else f"{piped.staleness:g}"
                        ideal_text = f"{target:.1f}" + (" cpu" if binds else "")
                        dup = piped.duplicates / (piped.duplicates + piped.evaluations)
                        costed = costed_ideal(latency, m, k, scorer, overhead_s, limit, dup)
                        print(
                            f"| {latency:g} | {scorer.label} | {k} | {m} | {ideal_text} "
                            f"| {piped.rate:.2f} | {_pct(piped.rate / target)} | {stale} "
                            f"| {piped.duplicates} + {piped.dropped} / {piped.evaluations} "
                            f"| {costed:.2f} | {_pct(piped.rate / costed)} "
                            f"| {coupled.rate:.2f} | {_pct(coupled.rate / target)} "
                            f"| {piped.rate / coupled.rate:.1f}x |",
                            flush=True,
                        )


def fanout(work: Path, quick: bool) -> None:
    k = 32 if quick else 128
    scorer = Scorer(1.0, burn=False)
    problem = write_problem(work / "problem", scorer)
    iterations = k * (3 if quick else 6)
    print(
        f"\nWide fan-out: {k} evaluations in flight, {scorer.label} scorer, "
        f"LLM latency 0 s, M = {k}, {iterations} evaluations; ideal {k}/s; the rate is "
        "measured over the second half of the completions (the first half includes "
        "starting the sandboxes and, on Ray, the worker processes)\n"
    )
    print("| executor | evaluations/s | ratio to ideal | wall s | staleness (median) |")
    print("|---|---:|---:|---:|---:|")
    with serve_in_thread(vary=True) as server:
        out = work / "fanout-local"
        wall = evolve_run(problem, out, server, iterations, k, "--proposals", str(k))
        got = measure(out, iterations // 2, wall)
        print(f"| local | {got.rate:.1f} | {_pct(got.rate / k)} | {wall:.0f} | {got.staleness} |",
              flush=True)  # fmt: skip
        address = _start_ray(k)
        try:
            out = work / "fanout-ray"
            wall = evolve_run(
                problem,
                out,
                server,
                iterations,
                k,
                "--proposals",
                str(k),
                "--executor",
                "ray",
                "--ray-address",
                address,
                timeout_s=1800,
            )
            got = measure(out, iterations // 2, wall)
            print(
                f"| Ray (one node, {k} logical CPUs) | {got.rate:.1f} | {_pct(got.rate / k)} "
                f"| {wall:.0f} | {got.staleness} |",
                flush=True,
            )
        finally:
            subprocess.run([str(ROOT / ".venv" / "bin" / "ray"), "stop", "--force"],
                           capture_output=True)  # fmt: skip


def _start_ray(cpus: int) -> str:
    port = 6390
    done = subprocess.run(
        [
            str(ROOT / ".venv" / "bin" / "ray"),
            "start",
            "--head",
            f"--num-cpus={cpus}",
            "--node-ip-address=127.0.0.1",
            f"--port={port}",
            "--include-dashboard=false",
            "--disable-usage-stats",
        ],
        capture_output=True,
        text=True,
    )
    if done.returncode:
        raise SystemExit(f"ray start failed:\n{done.stderr[-2000:]}")
    return f"127.0.0.1:{port}"


QUALITY = (
    ("function_minimization", "score", True),
    ("bin_packing_or3", "excess_pct", False),
)


def best_of(out: Path, metric: str, maximize: bool) -> float:
    store = RunStore.open(out)
    rows = store.read_table("programs", columns=["status", "metrics"]).to_pylist()
    values = [json.loads(r["metrics"]).get(metric) for r in rows if r["status"] == "ok"]
    numbers = [float(v) for v in values if isinstance(v, (int, float))]
    return max(numbers) if maximize else min(numbers)


def quality(work: Path, quick: bool) -> None:
    seeds = 1 if quick else 5
    evaluations = 60 if quick else 300
    latency = 0.2
    print(
        f"\nSearch quality vs M: served offline mutator, latency {latency} s, K = 2, "
        f"{evaluations} evaluations, seeds 0-{seeds - 1}, median (min-max) best\n"
    )
    print("| problem | metric | M | median best | range | staleness (median) | wall s (median) |")
    print("|---|---|---:|---:|---|---:|---:|")
    with serve_in_thread(vary=True, latency_s=latency) as server:
        for name, metric, maximize in QUALITY:
            for m in (2, 8, 32):
                bests, stale, walls = [], [], []
                for seed in range(seeds):
                    out = work / f"quality-{name}-{m}-{seed}"
                    wall = evolve_run(ROOT / "problems" / name, out, server, evaluations, 2,
                                      "--proposals", str(m), "--seed", str(seed))  # fmt: skip
                    bests.append(best_of(out, metric, maximize))
                    staleness = measure(out, 2, wall).staleness
                    stale.append(staleness if staleness is not None else 0)
                    walls.append(wall)
                    shutil.rmtree(out, ignore_errors=True)
                print(
                    f"| {name} | {metric} ({'max' if maximize else 'min'}) | {m} "
                    f"| {statistics.median(bests):.4f} | {min(bests):.4f}-{max(bests):.4f} "
                    f"| {statistics.median(stale):g} | {statistics.median(walls):.0f} |",
                    flush=True,
                )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--part",
        action="append",
        choices=["grid", "fanout", "quality"],
        help="which part (repeatable; default all)",
    )
    parser.add_argument("--quick", action="store_true", help="a small subset of each part")
    parser.add_argument(
        "--scorers",
        help=f"grid: only these evaluations, comma-separated, of {','.join(SCORERS)}",
    )
    args = parser.parse_args()
    only = args.scorers.split(",") if args.scorers else None
    if only and set(only) - set(SCORERS):
        parser.error(f"--scorers: unknown {sorted(set(only) - set(SCORERS))}")
    parts: list[Any] = args.part or ["grid", "fanout", "quality"]
    print(f"# pipeline benchmark, {time.strftime('%Y-%m-%d')}, {CORES} cores")
    with tempfile.TemporaryDirectory() as tmp:
        for part in parts:
            if part == "grid":
                grid(Path(tmp) / part, args.quick, only)
            else:
                {"fanout": fanout, "quality": quality}[part](Path(tmp) / part, args.quick)


if __name__ == "__main__":
    main()
