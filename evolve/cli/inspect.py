"""`evolve show`, `evolve report` and `evolve export`: read a run, never write to it
(but for the report or program file asked for)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from evolve.analysis.summary import format_summary, run_summary
from evolve.cli.terminal import printable
from evolve.errors import UsageError

__all__ = ["register"]


def cmd_show(args: argparse.Namespace) -> int:
    summary = run_summary(Path(args.run_dir), top=args.top)
    print(json.dumps(summary, indent=2) if args.json else format_summary(_printable(summary)))
    return 0


def _printable(value: Any) -> Any:
    """``value`` (a summary) with every string, keys included, made printable on
    one line: a run directory may be hostile (a model name, a problem name or a
    stop reason with a control sequence or a newline could draw a fake line),
    and every field of ``evolve show`` is one line."""
    if isinstance(value, str):
        return printable(value, one_line=True)
    if isinstance(value, dict):
        return {_printable(k): _printable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_printable(v) for v in value]
    return value


# The report and export read a run through ``evolve.Run`` (pandas, networkx):
# imported when those commands run, so every other command starts half a
# second sooner. Nothing imports the CLI, so this cannot hide a cycle.


def cmd_report(args: argparse.Namespace) -> int:
    from evolve.analysis.report import write_report

    out = Path(args.out) if args.out else Path(args.run_dir) / "report.html"
    print(f"report: {write_report(args.run_dir, out)}")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    if args.traces is not None:
        return _export_traces(args)
    if args.approved:
        from evolve.analysis.export import export_approved

        written = export_approved(args.run_dir, args.out)
        print(f"wrote {len(written)} approved programs to {written[0].parent}")
        return 0
    from evolve.analysis.export import export_program

    print(f"wrote {export_program(args.run_dir, args.id, args.out)}")
    return 0


def _export_traces(args: argparse.Namespace) -> int:
    from evolve.analysis.traces import export_traces

    if args.out is not None:
        raise UsageError("--traces FILE names the output file; drop -o/--out")
    done = export_traces(args.run_dir, args.traces)
    line = f"wrote {done.records} traces to {done.path}"
    if done.skipped:
        line += f" ({done.skipped} calls made before schema 6 stored no texts: left out)"
    print(printable(line, one_line=True))
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``show``, ``report`` and ``export`` to the command parser."""
    show = sub.add_parser("show", help="summarise a run (finished or live)")
    show.add_argument("run_dir")
    show.add_argument("--top", type=int, default=5, help="programs to list (default 5)")
    show.add_argument("--json", action="store_true", help="machine-readable output")
    show.set_defaults(func=cmd_show)

    report = sub.add_parser("report", help="write a self-contained HTML report of a run")
    report.add_argument("run_dir")
    report.add_argument("-o", "--out", default=None, help="HTML file (default RUN_DIR/report.html)")
    report.set_defaults(func=cmd_report)

    export = sub.add_parser(
        "export",
        help="write a program of a run (default: the best) to a file, or its LLM traces",
    )
    export.add_argument("run_dir")
    which = export.add_mutually_exclusive_group()
    which.add_argument("--best", action="store_true", help="the best program (the default)")
    which.add_argument("--id", default=None, help="this program id instead")
    which.add_argument(
        "--approved",
        action="store_true",
        help="every program a reviewer approved, as ID.py in a folder (-o; default "
        "RUN_DIR/approved)",
    )
    which.add_argument(
        "--traces",
        default=None,
        metavar="FILE",
        help="every LLM proposal as a fine-tuning chat record: FILE.jsonl or FILE.parquet",
    )
    export.add_argument("-o", "--out", default=None, help="file (default RUN_DIR/best_<id>.py)")
    export.set_defaults(func=cmd_export)
