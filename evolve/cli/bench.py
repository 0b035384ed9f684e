"""`evolve bench`: a problem under several arms x K seeds at one evaluation budget."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from evolve.bench.arms import BUILTIN_ARMS, parse_arm
from evolve.bench.grid import ArmRun, BenchSpec, run_grid
from evolve.bench.report import BENCH_FILE, PLOT_FILE, format_table, write_results
from evolve.cli.terminal import printable
from evolve.config import load_problem
from evolve.errors import UsageError
from evolve.mutation.setup import resolve_llm_config, settings_for
from sandboxes.factory import SANDBOX_KINDS

__all__ = ["cmd_bench", "register"]


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    bench = sub.add_parser(
        "bench",
        help="compare configurations (arms) of a problem over several seeds at one budget",
        description="Run PROBLEM under each --arm with seeds 0..SEEDS-1, EVALUATIONS "
        "evaluated children per run, and print the median best score per arm with a 95%% "
        "bootstrap interval. Built-in arms: "
        + ", ".join(BUILTIN_ARMS)
        + " (best-of-n: every child a child of the seed, no inspirations, one island).",
    )
    bench.add_argument("problem", help="problem folder (any layout)")
    bench.add_argument(
        "--arm",
        action="append",
        default=None,
        metavar="NAME[=FILE]",
        help="a built-in arm, or NAME=FILE.toml with [database]/[prompt]/[llm]/[novelty]/"
        "[meta]/[judge] tables over the problem's (repeatable; default: evolve and best-of-n)",
    )
    bench.add_argument("--seeds", type=int, default=5, help="runs per arm (seeds 0..N-1)")
    bench.add_argument(
        "--evaluations", type=int, default=300, help="evaluated children per run (default 300)"
    )
    bench.add_argument(
        "--threshold", type=float, default=None, help="count evaluations until the best reaches it"
    )
    bench.add_argument(
        "--out", default=None, help="results folder (default bench/<problem>-<time>)"
    )
    bench.add_argument("--sandbox", choices=SANDBOX_KINDS, default=None)
    bench.add_argument("--concurrency", type=int, default=2, help="evaluations in flight per run")
    bench.add_argument("--model", default="offline", help="as for `evolve run`")
    bench.add_argument("--llm-config", default=None, help="TOML file with an [llm] table")
    bench.add_argument("--base-url", default=None, help="OpenAI-compatible endpoint")
    bench.add_argument("--api-key-env", default=None, help="environment variable of the key")
    bench.set_defaults(func=cmd_bench)


def cmd_bench(args: argparse.Namespace) -> int:
    if args.seeds < 1:
        raise UsageError(f"--seeds must be >= 1, got {args.seeds}")
    if args.evaluations < 1:
        raise UsageError(f"--evaluations must be >= 1, got {args.evaluations}")
    problem_path = Path(args.problem)
    problem = load_problem(problem_path)  # a malformed folder fails before any run
    arms = tuple(parse_arm(text) for text in (args.arm or ["evolve", "best-of-n"]))
    names = [arm.name for arm in arms]
    if len(set(names)) != len(names):
        raise UsageError(f"--arm: each arm needs its own name, got {names}")
    config = resolve_llm_config(
        problem,
        args.model,
        llm_config_path=args.llm_config,
        base_url=args.base_url,
        api_key_env=args.api_key_env,
    )
    spec = BenchSpec(
        problem=problem_path,
        arms=arms,
        seeds=tuple(range(args.seeds)),
        evaluations=args.evaluations,
        threshold=args.threshold,
        sandbox=args.sandbox,
        mutation=settings_for(config, record=False, replay=None),
        concurrency=args.concurrency,
    )
    stamp = time.strftime("%Y%m%d-%H%M%S")
    out = Path(args.out) if args.out else Path("bench") / f"{problem_path.resolve().name}-{stamp}"
    runs = run_grid(spec, out, on_run=_print_run)
    summary = write_results(out, spec, runs)
    print(printable(format_table(spec, summary)))
    print(f"results: {out / BENCH_FILE}, plot: {out / PLOT_FILE}, runs: {out}/<arm>/seed-<k>")
    return 0


def _print_run(run: ArmRun) -> None:
    best = "-" if run.best is None else f"{run.best:.6g}"
    line = f"{run.arm} seed {run.seed}: best {best} after {run.evaluations} evaluations"
    print(printable(f"{line} ({run.stop_reason})", one_line=True), file=sys.stderr)
