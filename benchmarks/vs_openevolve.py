"""evolve vs OpenEvolve, side by side, on the same "model" and the same scorers.

Both frameworks talk to one offline mutator server (``evolve mutator serve``
semantics, started here on a free port with ``vary`` on), run on this machine
with 2 evaluation workers, one after the other, in this one script:

1. **Throughput**: a trivial scorer (reads the numbers in the program), the same
   OpenEvolve-layout folder for both. evolve scores every candidate in its
   process sandbox; OpenEvolve runs the evaluator in its worker processes with
   no sandbox, with its default database (1,000 programs kept; another size with
   ``--openevolve-population``). Reported: wall time, iterations/s overall and
   over the first and last 10% of each run (read from the server's request
   count), time per candidate, and the ratio.
2. **Search quality**: best score after N evaluations on function_minimization
   and bin_packing_or3, median over seeds. evolve runs its own problem folder
   (its database settings); OpenEvolve runs a copy with an evaluator.py that
   calls the very same scorer.

    .venv/bin/python benchmarks/vs_openevolve.py          # 1k and 3k throughput, 5 seeds x 300
    .venv/bin/python benchmarks/vs_openevolve.py --quick  # < 2 min: 300 iterations, 1 seed x 60
    .venv/bin/python benchmarks/vs_openevolve.py --part quality --seeds 5 --evaluations 300

OpenEvolve is installed from PyPI into .bench/openevolve-venv on first use.
Goal (issue 8): evolve >= 5x OpenEvolve's throughput over a 3,000-iteration run;
a better median best score on both problems.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._peers import (
    ROOT,
    adapted_problem,
    config_yaml,
    openevolve_bin,
    openevolve_version,
    trivial_problem,
)
from evolve.testing.app import MutatorServer, serve_in_thread

WORKERS = 2
EVOLVE = ROOT / ".venv" / "bin" / "evolve"


def run_openevolve(
    folder: Path,
    api_base: str,
    iterations: int,
    seed: int,
    out: Path,
    population: int | None = 100_000,
) -> float:
    """Wall seconds of one OpenEvolve run (``population``: see ``config_yaml``)."""
    config = config_yaml(api_base, seed, iterations, WORKERS, population)
    (folder / "config.yaml").write_text(config)
    started = time.perf_counter()
    done = subprocess.run(
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
        capture_output=True,
        text=True,
        cwd=folder,
    )
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"openevolve failed: {done.stderr[-2000:]}")
    return elapsed


def openevolve_best(out: Path) -> float | None:
    """The best combined_score OpenEvolve saved for a run."""
    info = out / "best" / "best_program_info.json"
    if not info.exists():
        return None
    metrics = json.loads(info.read_text()).get("metrics", {})
    value = metrics.get("combined_score")
    return None if value is None else float(value)


def run_evolve(
    folder: Path, api_base: str, iterations: int, seed: int, out: Path
) -> tuple[float, str]:
    """Wall seconds and stdout of one evolve run against the same server."""
    started = time.perf_counter()
    done = subprocess.run(
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
            "--concurrency",
            str(WORKERS),
            "--seed",
            str(seed),
            "--sandbox",
            "process",
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
    )
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"evolve failed: {done.stderr[-2000:]}")
    return elapsed, done.stdout


def evolve_best(stdout: str) -> float | None:
    match = re.search(r"best score: (\S+)", stdout)
    return float(match.group(1)) if match else None


class RequestClock:
    """Samples the server's count of chat requests every 20 ms while a run goes on.

    One request is one iteration for both frameworks, so the same clock gives
    either one's rate early and late in a run without touching its code or logs.
    """

    def __init__(self, server: MutatorServer) -> None:
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

    def rate(self, lo: float, hi: float, total: int) -> float:
        """Requests per second while the run went from ``lo`` to ``hi`` of ``total``."""
        a = max(self._base + lo * total, self._base + 1)  # from the first request on
        b = self._base + hi * total
        t_a = next(t for t, n in self._samples if n >= a)
        t_b = next((t for t, n in self._samples if n >= b), self._samples[-1][0])
        return (b - a) / max(t_b - t_a, 1e-9)


def sandbox_ms(out: Path) -> float:
    """Mean time a candidate spent in evolve's sandbox (the store's wall_time_s)."""
    from evolve import Run

    frame = Run.open(out).programs
    return 1000 * float(frame["wall_time_s"].iloc[1:].mean())


def throughput(
    server: MutatorServer,
    iteration_counts: list[int],
    work: Path,
    openevolve_max: int,
    population: int | None,
) -> None:
    print(f"## Throughput (trivial scorer, {WORKERS} workers, same mutator server)\n")
    print(
        "| iterations | framework | wall s | it/s | it/s first 10% | it/s last 10% "
        "| ms per candidate-slot | of which in the sandbox | evolve / OpenEvolve |"
    )
    print("|---:|---|---:|---:|---:|---:|---:|---:|---:|")
    kept = f"keeps {population:,}" if population else "default: keeps 1,000"
    for n in iteration_counts:
        folder = trivial_problem(work / f"trivial-{n}")
        oe = None
        if n <= openevolve_max:
            with RequestClock(server) as clock:
                out = work / f"oe-trivial-{n}"
                oe = run_openevolve(folder, server.base_url, n, 0, out, population)
            print(
                f"| {n} | OpenEvolve ({kept}) | {oe:.1f} | {n / oe:.1f} "
                f"| {clock.rate(0, 0.1, n):.1f} "
                f"| {clock.rate(0.9, 1.0, n):.1f} | {1000 * WORKERS * oe / n:.1f} "
                "| (unsandboxed) | |"
            )
        out = work / f"ev-trivial-{n}"
        with RequestClock(server) as clock:
            ev, _ = run_evolve(folder, server.base_url, n, 0, out)
        ratio = f"**{oe / ev:.1f}x**" if oe else "(OpenEvolve not run)"
        print(
            f"| {n} | evolve | {ev:.1f} | {n / ev:.1f} | {clock.rate(0, 0.1, n):.1f} "
            f"| {clock.rate(0.9, 1.0, n):.1f} | {1000 * WORKERS * ev / n:.1f} "
            f"| {sandbox_ms(out):.1f} | {ratio} |"
        )
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
            _, stdout = run_evolve(source, api_base, evaluations, seed, work / f"ev-{name}-{seed}")
            value = evolve_best(stdout)
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
    args = parser.parse_args()
    if args.quick:
        args.iterations, args.seeds, args.evaluations = "300", 1, 60
    openevolve_bin()
    print(
        f"OpenEvolve {openevolve_version()} (PyPI, own venv) vs evolve (this checkout); "
        f"{time.strftime('%Y-%m-%d')}\n"
    )
    server = serve_in_thread(vary=True)
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
