"""`evolve eval`: score one program once, the way a run would (test a scorer)."""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path

from evolve.cli.overrides import add_override_flags, overrides_of
from evolve.cli.terminal import printable
from evolve.config import load_problem
from evolve.config.judge import JUDGED_SCORE
from evolve.config.overrides import apply_overrides
from evolve.engine import sandbox_config, score_result
from evolve.engine.seed_check import suspicious_seed
from evolve.errors import SandboxUnavailable, UsageError
from sandboxes.factory import SANDBOX_KINDS, make_sandbox
from sandboxes.job import SandboxSetupError

__all__ = ["register"]


def cmd_eval(args: argparse.Namespace) -> int:
    problem = apply_overrides(load_problem(args.problem, args.config), overrides_of(args))
    path = Path(args.program) if args.program else problem.initial_path
    try:
        code = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"{path}: cannot read the program ({exc}); check --program") from exc
    try:
        sandbox = make_sandbox(sandbox_config(problem, args.sandbox), concurrency=1)
    except SandboxSetupError as exc:
        raise SandboxUnavailable(str(exc)) from exc
    try:
        result = sandbox.run(problem.make_job("eval", code))
    finally:
        sandbox.close()
    objective = problem.spec.objective
    if objective.metric == JUDGED_SCORE and problem.spec.judge.base_metric:
        # judged_score is added by the LLM judge during a run, never by the scorer:
        # evaluate the program by the metric the judge builds it on
        objective = dataclasses.replace(objective, metric=problem.spec.judge.base_metric)
    scored = score_result(result, objective)
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
        "probes": None if result.probes is None else result.probes.to_json(),
    }
    warning = suspicious_seed(str(scored.status), result.metrics, result.artifacts)
    report["warning"] = warning
    if args.json:
        print(json.dumps(report, indent=2))  # JSON escapes control characters itself
    else:
        # The reason, metric names and artifacts come from the candidate and its
        # scorer: printed raw, a control sequence in them could redraw this very
        # output as a fake result (evolve.cli.terminal).
        print(f"status: {report['status']}  score: {report['score']}")
        if warning is not None:
            print(f"WARNING: {printable(warning)}")
        if scored.reason:
            print(f"reason: {printable(scored.reason)}")
        for name, value in sorted(result.metrics.items()):
            print(f"  {printable(name, one_line=True)} = {printable(str(value), one_line=True)}")
        for name, text in sorted(result.artifacts.items()):
            print(f"--- {printable(name, one_line=True)} ---\n{printable(text.rstrip())}")
        if result.probes is not None and result.probes.total:
            print(f"--- tried what the sandbox refuses ({result.probes.total}) ---")
            for line in result.probes.log:
                print(f"  {printable(line, one_line=True)}")
    return 0 if scored.status == "ok" else 1


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``eval`` to the command parser."""
    ev = sub.add_parser("eval", help="score one program once (test a scorer)")
    ev.add_argument("problem")
    ev.add_argument("--program", default=None, help="program file (default: the seed)")
    ev.add_argument(
        "--sandbox",
        choices=SANDBOX_KINDS,
        default=None,
        help="where the program runs (default: the problem's [sandbox] kind)",
    )
    ev.add_argument("--json", action="store_true", help="print the result as JSON")
    add_override_flags(ev)
    ev.set_defaults(func=cmd_eval)
