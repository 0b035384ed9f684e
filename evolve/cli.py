"""The `evolve` command line: run, resume, show, eval."""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path
from typing import TextIO

from evolve import mutator_server, sandbox_cli
from evolve.controller import Progress, RunLimits, SeedFailed
from evolve.mutation_setup import resolve_llm_config, settings_for
from evolve.problem import load_problem
from evolve.runner import RunOptions, RunOutcome, make_sandbox, resume_run, start_run
from evolve.store import StoreError
from evolve.strict import ConfigError
from evolve.summary import format_summary, run_summary
from sandboxes.docker.image import ImageError

__all__ = ["main"]


class ProgressPrinter:
    """A live status line on a terminal; a plain log line every few seconds otherwise."""

    def __init__(self, stream: TextIO, interval_s: float = 5.0) -> None:
        self.stream = stream
        self.live = stream.isatty()
        self.interval_s = 0.2 if self.live else interval_s
        self._last = 0.0

    def __call__(self, progress: Progress, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._last < self.interval_s:
            return
        self._last = now
        failures = sum(v for k, v in progress.statuses.items() if k != "ok")
        best = "-" if progress.best_score is None else f"{progress.best_score:.6g}"
        line = (
            f"iteration {progress.next_iteration:>6}  evaluated {progress.evaluations:>6}  "
            f"best {best:>12}  {progress.evals_per_s():6.1f} evals/s  failures {failures}"
        )
        if progress.llm_calls:
            line += f"  llm {progress.llm_calls} calls ${progress.cost_usd:.4f}"
        if self.live:
            self.stream.write("\r\x1b[2K" + line)
        else:
            self.stream.write(line + "\n")
        self.stream.flush()

    def close(self) -> None:
        if self.live:
            self.stream.write("\n")
            self.stream.flush()


def _limits(args: argparse.Namespace) -> RunLimits:
    return RunLimits(
        evaluations=args.iterations,
        concurrency=args.concurrency,
        max_time_s=args.max_time,
        target=args.target,
    )


def _report(outcome: RunOutcome) -> None:
    p = outcome.progress
    print(f"stopped: {p.stop_reason}; {p.evaluations_this_run} programs evaluated this time")
    if p.llm_calls:
        print(f"llm: {p.llm_calls} calls, {p.llm_tokens} tokens, ${p.cost_usd:.4f}")
    if outcome.seed_program is not None:
        print(f"seed score: {outcome.seed_program.score}")
    if outcome.best is not None:
        print(f"best score: {outcome.best.score} ({outcome.best.id})")
    print(f"run directory: {outcome.run_dir}  (inspect: evolve show {outcome.run_dir})")


def cmd_run(args: argparse.Namespace) -> int:
    problem_path = Path(args.problem)
    if args.out is None:
        stamp = time.strftime("%Y%m%d-%H%M%S")
        out = Path("runs") / f"{problem_path.resolve().name}-{stamp}"
    else:
        out = Path(args.out)
    problem = load_problem(problem_path)
    config = resolve_llm_config(
        problem,
        args.model,
        llm_config_path=args.llm_config,
        base_url=args.base_url,
        api_key_env=args.api_key_env,
        budget_usd=args.budget_usd,
        budget_tokens=args.budget_tokens,
    )
    options = RunOptions(
        seed=args.seed,
        sandbox=args.sandbox,
        concurrency=args.concurrency,
        deterministic=args.deterministic,
        mutation=settings_for(config, args.record, args.replay),
        executor=args.executor or "local",
        ray_address=args.ray_address,
    )
    printer = ProgressPrinter(sys.stderr)
    try:
        outcome = start_run(problem_path, out, options, _limits(args), printer)
    finally:
        printer.close()
    _report(outcome)
    return 0


def cmd_resume(args: argparse.Namespace) -> int:
    printer = ProgressPrinter(sys.stderr)
    try:
        outcome = resume_run(
            Path(args.run_dir),
            _limits(args),
            printer,
            executor=args.executor,
            ray_address=args.ray_address,
        )
    finally:
        printer.close()
    _report(outcome)
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    summary = run_summary(Path(args.run_dir), top=args.top)
    print(json.dumps(summary, indent=2) if args.json else format_summary(summary))
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    problem = load_problem(args.problem)
    path = Path(args.program) if args.program else problem.initial_path
    code = path.read_text(encoding="utf-8")
    sandbox = make_sandbox(
        args.sandbox or problem.spec.sandbox.kind, image=problem.spec.sandbox.image, concurrency=1
    )
    try:
        result = sandbox.run(problem.make_job("eval", code))
    finally:
        sandbox.close()
    from evolve.scoring import score_result

    scored = score_result(result, problem.spec.objective)
    report = {
        "program": str(path),
        "status": str(scored.status),
        "score": scored.score,
        "reason": scored.reason,
        "metrics": result.metrics,
        "artifacts": result.artifacts,
        "wall_time_s": result.wall_time_s,
        "peak_memory_mb": result.peak_memory_mb,
        "stage_reached": result.stage_reached,
    }
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(f"status: {report['status']}  score: {report['score']}")
        if scored.reason:
            print(f"reason: {scored.reason}")
        for name, value in sorted(result.metrics.items()):
            print(f"  {name} = {value}")
        for name, text in sorted(result.artifacts.items()):
            print(f"--- {name} ---\n{text.rstrip()}")
    return 0 if scored.status == "ok" else 1


def cmd_report(args: argparse.Namespace) -> int:
    from evolve.report import write_report

    out = Path(args.out) if args.out else Path(args.run_dir) / "report.html"
    print(f"report: {write_report(args.run_dir, out)}")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from evolve.export import export_program

    print(f"wrote {export_program(args.run_dir, args.id, args.out)}")
    return 0


def _add_limit_args(parser: argparse.ArgumentParser, iterations_default: int) -> None:
    parser.add_argument(
        "--iterations",
        type=int,
        default=iterations_default,
        help=f"child programs to evaluate (default {iterations_default})",
    )
    parser.add_argument(
        "--concurrency", type=int, default=2, help="evaluations in flight (default 2)"
    )
    parser.add_argument("--max-time", type=float, default=None, help="stop after this many seconds")
    parser.add_argument(
        "--target", type=float, default=None, help="stop once the best score reaches this"
    )
    parser.add_argument(
        "--executor",
        choices=["local", "ray"],
        default=None,
        help="where evaluations run: local threads (default) or Ray tasks across a cluster",
    )
    parser.add_argument(
        "--ray-address",
        default=None,
        help="join this Ray cluster ('auto' or HOST:PORT); default: start a local Ray instance",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="evolve", description="Evolutionary program search with sandboxed scoring."
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="start a new run on a problem folder")
    run.add_argument("problem", help="problem folder (problem.toml or OpenEvolve layout)")
    run.add_argument("--out", default=None, help="run directory (default runs/<problem>-<time>)")
    run.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    run.add_argument(
        "--sandbox",
        choices=["process", "docker"],
        default=None,
        help="where candidates run (default: the problem's [sandbox] kind, else process)",
    )
    run.add_argument(
        "--model",
        default="offline",
        help="'offline' (default: program transformation, no network), 'llm' (the [llm] "
        "table of --llm-config or problem.toml), or a model name served at --base-url",
    )
    run.add_argument(
        "--deterministic",
        action="store_true",
        help="sample and update the population in iteration order, so the same seed gives "
        "the same lineage at any concurrency (needed for --replay to reproduce a run)",
    )
    run.add_argument("--llm-config", default=None, help="TOML file with an [llm] table")
    run.add_argument("--base-url", default=None, help="OpenAI-compatible endpoint for --model NAME")
    run.add_argument(
        "--api-key-env",
        default=None,
        help="environment variable holding the key for --model NAME (default OPENAI_API_KEY; "
        "'' for none)",
    )
    run.add_argument(
        "--budget-usd", type=float, default=None, help="stop when LLM spend reaches it"
    )
    run.add_argument("--budget-tokens", type=int, default=None, help="stop at this many tokens")
    run.add_argument(
        "--record", action="store_true", help="keep every completion in RUN/llm_record.jsonl"
    )
    run.add_argument(
        "--replay",
        default=None,
        help="answer LLM calls from a record (a run directory or llm_record.jsonl); no network",
    )
    _add_limit_args(run, 100)
    run.set_defaults(func=cmd_run)

    resume = sub.add_parser("resume", help="continue a stopped or crashed run")
    resume.add_argument("run_dir")
    _add_limit_args(resume, 100)
    resume.set_defaults(func=cmd_resume)

    show = sub.add_parser("show", help="summarise a run (finished or live)")
    show.add_argument("run_dir")
    show.add_argument("--top", type=int, default=5, help="programs to list (default 5)")
    show.add_argument("--json", action="store_true", help="machine-readable output")
    show.set_defaults(func=cmd_show)

    ev = sub.add_parser("eval", help="score one program once (test a scorer)")
    ev.add_argument("problem")
    ev.add_argument("--program", default=None, help="program file (default: the seed)")
    ev.add_argument(
        "--sandbox",
        choices=["process", "docker"],
        default=None,
        help="where the program runs (default: the problem's [sandbox] kind)",
    )
    ev.add_argument("--json", action="store_true", help="print the result as JSON")
    ev.set_defaults(func=cmd_eval)

    mutator = sub.add_parser("mutator", help="the offline mutator as a service")
    mutator_sub = mutator.add_subparsers(dest="mutator_command", required=True)
    serve = mutator_sub.add_parser(
        "serve", help="serve the offline mutator as an OpenAI-compatible chat-completions API"
    )
    mutator_server.add_arguments(serve)
    serve.set_defaults(func=mutator_server.run)

    report = sub.add_parser("report", help="write a self-contained HTML report of a run")
    report.add_argument("run_dir")
    report.add_argument("-o", "--out", default=None, help="HTML file (default RUN_DIR/report.html)")
    report.set_defaults(func=cmd_report)

    export = sub.add_parser("export", help="write a program of a run (default: the best) to a file")
    export.add_argument("run_dir")
    which = export.add_mutually_exclusive_group()
    which.add_argument("--best", action="store_true", help="the best program (the default)")
    which.add_argument("--id", default=None, help="this program id instead")
    export.add_argument("-o", "--out", default=None, help="file (default RUN_DIR/best_<id>.py)")
    export.set_defaults(func=cmd_export)

    sandbox = sub.add_parser("sandbox", help="build the Docker sandbox image")
    sandbox_cli.add_arguments(sandbox)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(levelname)s %(name)s: %(message)s",
    )
    for noisy in ("httpx", "httpx2", "httpcore", "openai"):  # one line per HTTP request
        logging.getLogger(noisy).setLevel(logging.DEBUG if args.verbose else logging.WARNING)
    try:
        return args.func(args)
    except (ConfigError, StoreError, SeedFailed, ValueError, FileNotFoundError, ImageError) as exc:
        print(f"evolve: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
