"""`evolve run` and `evolve resume`: drive a run, with a live progress line."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TextIO

from evolve.cli.overrides import add_override_flags, overrides_of
from evolve.cli.terminal import printable
from evolve.config import load_problem
from evolve.config.overrides import apply_overrides
from evolve.engine import Progress, RunLimits, RunOptions, RunOutcome, resume_run, start_run
from evolve.engine.branch import branch_run
from evolve.errors import UsageError
from evolve.mutation.setup import resolve_llm_config, settings_for
from sandboxes.factory import SANDBOX_KINDS

__all__ = ["ProgressPrinter", "register"]


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
        # Which side is the bottleneck: proposals out, children waiting, evaluations out.
        line += (
            f"  proposing {progress.proposing} | queued {progress.queued} "
            f"| evaluating {progress.evaluating}"
        )
        if progress.llm_calls:
            line += f"  llm {progress.llm_calls} calls ${progress.cost_usd:.4f}"
        if progress.paused_for:
            line += f"  PAUSED: {progress.paused_for} awaits review (evolve approve|reject)"
        line = printable(line, one_line=True)  # only our own "\r\x1b[2K" may redraw it
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
        proposals=args.proposals,
        queue_size=args.queue,
        max_staleness=args.max_staleness,
        schedule=args.schedule,
        max_time_s=args.max_time,
        target=args.target,
    )


def _report(outcome: RunOutcome) -> None:
    p = outcome.progress
    lines = [f"stopped: {p.stop_reason}; {p.evaluations_this_run} programs evaluated this time"]
    if p.llm_calls:
        lines.append(f"llm: {p.llm_calls} calls, {p.llm_tokens} tokens, ${p.cost_usd:.4f}")
    if outcome.seed_program is not None:
        lines.append(f"seed score: {outcome.seed_program.score}")
    if outcome.best is not None:
        lines.append(f"best score: {outcome.best.score} ({outcome.best.id})")
    lines.append(f"run directory: {outcome.run_dir}  (inspect: evolve show {outcome.run_dir})")
    for line in lines:
        print(printable(line, one_line=True))


def cmd_run(args: argparse.Namespace) -> int:
    problem_path = Path(args.problem)
    if args.out is None:
        stamp = time.strftime("%Y%m%d-%H%M%S")
        out = Path("runs") / f"{problem_path.resolve().name}-{stamp}"
    else:
        out = Path(args.out)
    overrides = overrides_of(args)
    problem = apply_overrides(load_problem(problem_path, args.config), overrides)  # fail now
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
        overrides=overrides,
        config=problem.config_file if args.config else None,  # as the folder names it
    )
    return _drive_with_progress(
        lambda printer: start_run(problem_path, out, options, _limits(args), printer)
    )


def _drive_with_progress(drive: Callable[[ProgressPrinter], RunOutcome]) -> int:
    """Run ``drive`` with the live progress line, then print the closing report."""
    printer = ProgressPrinter(sys.stderr)
    try:
        outcome = drive(printer)
    finally:
        printer.close()
    _report(outcome)
    return 0


def cmd_resume(args: argparse.Namespace) -> int:
    if args.accept_problem_change and not (args.reason or "").strip():
        raise UsageError(
            "--accept-problem-change needs --reason TEXT: why the changed problem files "
            "are acceptable (it is recorded in the run and shown by evolve show)"
        )
    if args.reason and not args.accept_problem_change:
        raise UsageError("--reason goes with --accept-problem-change")
    return _drive_with_progress(
        lambda printer: resume_run(
            Path(args.run_dir),
            _limits(args),
            printer,
            executor=args.executor,
            ray_address=args.ray_address,
            accept_problem_change=args.reason if args.accept_problem_change else None,
        )
    )


def cmd_branch(args: argparse.Namespace) -> int:
    return _drive_with_progress(
        lambda printer: branch_run(
            Path(args.run_dir),
            Path(args.out),
            _limits(args),
            program_id=args.program,
            checkpoint=args.checkpoint,
            on_progress=printer,
        )
    )


def cmd_propose(args: argparse.Namespace) -> int:
    path = Path(args.file)
    try:
        code = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"{path}: cannot read the proposed program ({exc}); check --file") from exc
    outcome = resume_run(
        Path(args.run_dir), RunLimits(evaluations=0), None, human=(args.parent, code, path)
    )
    child = outcome.proposed
    assert child is not None
    score = "-" if child.score is None else f"{child.score:.8g}"
    print(
        printable(
            f"{child.id}: {child.status}, score {score} (parent {args.parent})", one_line=True
        )
    )
    if child.reason:
        print(printable(f"reason: {child.reason}"))
    return 0 if str(child.status) == "ok" else 1


def _add_limit_args(parser: argparse.ArgumentParser, iterations_default: int) -> None:
    parser.add_argument(
        "--iterations",
        type=int,
        default=iterations_default,
        help=f"child programs to evaluate (default {iterations_default})",
    )
    parser.add_argument(
        "--concurrency",
        type=int,
        default=None,
        help="K, evaluations in flight (default 2 locally; on Ray, what the cluster holds)",
    )
    parser.add_argument(
        "--proposals",
        type=int,
        default=None,
        help="M, proposals (LLM calls) in flight at most (default [llm] max_concurrency, "
        "which a larger M raises for this run; offline: K); fewer while the queue is full",
    )
    parser.add_argument(
        "--queue", type=int, default=None, help="Q, ready children waiting (default K)"
    )
    parser.add_argument(
        "--max-staleness",
        type=int,
        default=None,
        help="most programs a child's sample may miss when it is evaluated (default 2(K+M))",
    )
    parser.add_argument(
        "--schedule",
        choices=["pipeline", "coupled"],
        default="pipeline",
        help="pipeline: proposals and evaluations apart (default); coupled: each slot "
        "proposes then evaluates",
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


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``run`` and ``resume`` to the command parser."""
    run = sub.add_parser("run", help="start a new run on a problem folder")
    run.add_argument("problem", help="problem folder (problem.toml or OpenEvolve layout)")
    run.add_argument("--out", default=None, help="run directory (default runs/<problem>-<time>)")
    run.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    add_override_flags(run)
    run.add_argument(
        "--sandbox",
        choices=SANDBOX_KINDS,
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
    resume.add_argument(
        "--accept-problem-change",
        action="store_true",
        help="go on although the run's problem files changed since it began "
        "(recorded with --reason; shown by evolve show)",
    )
    resume.add_argument("--reason", default=None, help="why the problem change is accepted")
    resume.set_defaults(func=cmd_resume)
    branch = sub.add_parser(
        "branch",
        help="start a new run from a program or an iteration of a run (which stays untouched)",
    )
    branch.add_argument("run_dir")
    start = branch.add_mutually_exclusive_group(required=True)
    start.add_argument("--program", default=None, help="seed the new run with this program")
    start.add_argument(
        "--checkpoint",
        type=int,
        default=None,
        metavar="N",
        help="start from the population as it was after iteration N",
    )
    branch.add_argument("--out", required=True, help="the new run's directory")
    _add_limit_args(branch, 100)
    branch.set_defaults(func=cmd_branch)
    propose = sub.add_parser(
        "propose",
        help="add a hand-written child of a program to a stopped run; it is evaluated and "
        "recorded like any other (model 'human')",
    )
    propose.add_argument("run_dir")
    propose.add_argument("--parent", required=True, help="the program it was written from")
    propose.add_argument("--file", required=True, help="the program (the parent with its "
                         "EVOLVE-BLOCK bodies changed)")  # fmt: skip
    propose.set_defaults(func=cmd_propose)
