"""What ``evolve bench`` prints and leaves: the table, ``bench.json`` and a plot.

Per arm: the median best score over its seeds with a 95 % bootstrap interval,
the median number of evaluations to reach the threshold (with how many runs
reached it), the evaluations and LLM tokens spent, and the share of proposals
the novelty check turned away before scoring. The plot draws each
arm's median best-so-far against evaluations, with the band between its
seeds' lowest and highest curves.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure  # no pyplot: no backend state, no display needed

from evolve.bench.grid import ArmRun, BenchSpec
from evolve.bench.stats import Interval, median_interval

__all__ = ["format_table", "summarize", "write_results"]

BENCH_FILE = "bench.json"
PLOT_FILE = "bench.png"


def summarize(runs: Sequence[ArmRun], arms: Sequence[str]) -> dict[str, dict[str, Any]]:
    """Per arm: the best's median and interval, evaluations to the threshold, costs."""
    out: dict[str, dict[str, Any]] = {}
    for arm in arms:
        mine = [r for r in runs if r.arm == arm]
        best = median_interval([math.nan if r.best is None else r.best for r in mine])
        reached = [r.to_threshold for r in mine if r.to_threshold is not None]
        out[arm] = {
            "runs": len(mine),
            "best": asdict(best),
            "reached": len(reached),
            "to_threshold": float(np.median(reached)) if reached else None,
            "evaluations": float(np.median([r.evaluations for r in mine])) if mine else 0.0,
            "tokens": float(np.median([r.tokens for r in mine])) if mine else 0.0,
            # share of the checked proposals (scored + turned away) not scored
            "not_novel_share": _share(mine),
        }
    return out


def _share(runs: Sequence[ArmRun]) -> float:
    turned_away = sum(r.not_novel for r in runs)
    total = turned_away + sum(r.evaluations for r in runs)
    return turned_away / total if total else 0.0


def _number(value: float | None) -> str:
    return "-" if value is None or value != value else f"{value:.6g}"


def _interval(found: dict[str, Any]) -> str:
    best = Interval(**found)
    return f"[{_number(best.low)}, {_number(best.high)}]"


def format_table(spec: BenchSpec, summary: dict[str, dict[str, Any]]) -> str:
    """The table ``evolve bench`` prints (and writes beside bench.json)."""
    threshold = "-" if spec.threshold is None else f"{spec.threshold:g}"
    head = (
        f"{spec.problem.name}: {spec.evaluations} evaluations x {len(spec.seeds)} seeds "
        f"per arm; threshold {threshold}"
    )
    columns = f"{'arm':<14} {'median best':>12} {'95% interval':>26} {'reached':>8} "
    columns += f"{'evals to thr':>12} {'evals':>7} {'tokens':>8} {'not novel':>9}"
    lines = [head, "", columns]
    for arm, found in summary.items():
        reached = "-" if spec.threshold is None else f"{found['reached']}/{found['runs']}"
        lines.append(
            f"{arm:<14} {_number(found['best']['median']):>12} {_interval(found['best']):>26} "
            f"{reached:>8} {_number(found['to_threshold']):>12} "
            f"{found['evaluations']:>7.0f} {found['tokens']:>8.0f} "
            f"{found['not_novel_share']:>9.0%}"
        )
    return "\n".join(lines) + "\n"


def write_results(out: Path, spec: BenchSpec, runs: Sequence[ArmRun]) -> dict[str, Any]:
    """bench.json (the spec, the summary, every run with its curve), the table
    as bench.txt, and bench.png; returns the summary."""
    arms = [arm.name for arm in spec.arms]
    summary = summarize(runs, arms)
    document = {
        "problem": str(spec.problem),
        "evaluations": spec.evaluations,
        "seeds": list(spec.seeds),
        "threshold": spec.threshold,
        "arms": {arm.name: {"overlay": arm.overlay, "source": arm.source} for arm in spec.arms},
        "summary": summary,
        "runs": [asdict(r) for r in runs],
    }
    out.mkdir(parents=True, exist_ok=True)
    (out / BENCH_FILE).write_text(json.dumps(document, indent=1, allow_nan=True) + "\n")
    (out / "bench.txt").write_text(format_table(spec, summary))
    _plot(out / PLOT_FILE, spec, runs, arms)
    return summary


def _plot(path: Path, spec: BenchSpec, runs: Sequence[ArmRun], arms: Sequence[str]) -> None:
    fig = Figure(figsize=(7, 4.2))
    ax = fig.subplots()
    for arm in arms:
        curves = [r.curve for r in runs if r.arm == arm and r.curve]
        if not curves:
            continue
        width = max(len(c) for c in curves)
        grid = np.array([c + [c[-1]] * (width - len(c)) for c in curves], dtype=float)
        x = np.arange(width)  # evaluations after the seed's
        with np.errstate(all="ignore"):
            ax.plot(x, np.nanmedian(grid, axis=0), label=f"{arm} (median of {len(curves)})")
            ax.fill_between(x, np.nanmin(grid, axis=0), np.nanmax(grid, axis=0), alpha=0.2)
    if spec.threshold is not None:
        ax.axhline(spec.threshold, linestyle="--", linewidth=0.8, color="grey")
    ax.set_xlabel("evaluations")
    ax.set_ylabel("best score so far")
    ax.set_title(f"{spec.problem.name}: best score against evaluations")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
