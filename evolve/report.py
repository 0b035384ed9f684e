"""`evolve report RUN_DIR -o report.html`: one self-contained HTML file.

The page needs no network and no server: the data is embedded as JSON (with
``</`` escaped, so no program text can close the script tag), the score curve
is inline SVG, and a small vanilla-JS renderer draws the lineage tree. Program
text is hostile: the page only ever puts it in the DOM with ``textContent``.

Big runs: the tree shows at most ``max_nodes`` programs (the path to the best
plus an even sample, as in :func:`evolve.plots.lineage_layout`) and code and
diffs are embedded for at most ``max_code`` programs (the path to the best and
the top scores first); the page says when it shows a sample.
"""

from __future__ import annotations

import html
import json
import math
from importlib import resources
from pathlib import Path
from typing import Any

from evolve.notebook import Run
from evolve.plots import lineage_layout

__all__ = ["build_report", "write_report"]


def _finite(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _curve_svg(run: Run, width: int = 640, height: int = 220) -> str:
    frame = run.progress()
    best = [_finite(v) for v in frame["best"]]
    points = [(i, v) for i, v in enumerate(best) if v is not None]
    if not points:
        return "<p>No scored evaluation yet.</p>"
    lo = min(v for _, v in points)
    hi = max(v for _, v in points)
    span = (hi - lo) or 1.0
    n = max(1, len(best) - 1)

    def xy(i: int, v: float) -> str:
        return (
            f"{40 + (width - 50) * i / n:.1f},{height - 25 - (height - 40) * (v - lo) / span:.1f}"
        )

    line = " ".join(xy(i, v) for i, v in points)
    return (
        f'<svg id="curve" viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
        'role="img" aria-label="best score over evaluations">'
        f'<polyline fill="none" stroke="#1f77b4" stroke-width="2" points="{line}"/>'
        f'<text x="40" y="14" font-size="11">best {html.escape(f"{points[-1][1]:.6g}")}</text>'
        f'<text x="40" y="{height - 6}" font-size="11">0</text>'
        f'<text x="{width - 60}" y="{height - 6}" font-size="11">{len(best)} evaluations</text>'
        f'<text x="2" y="{height - 25}" font-size="10">{html.escape(f"{lo:.4g}")}</text>'
        f'<text x="2" y="24" font-size="10">{html.escape(f"{hi:.4g}")}</text></svg>'
    )


def _table(rows: list[list[Any]], header: list[str]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>" for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _summaries(run: Run) -> str:
    islands = run.island_summary()
    island_rows = [
        [int(i), int(r["programs"]), f"{r['best']:.6g}", f"{r['median']:.6g}"]
        for i, r in islands.iterrows()
    ]
    calls = run.llm_calls
    if len(calls):
        grouped = calls.groupby("model").agg(
            calls=("id", "size"),
            prompt_tokens=("prompt_tokens", "sum"),
            completion_tokens=("completion_tokens", "sum"),
            cost_usd=("cost_usd", "sum"),
        )
        cost_rows = [
            [
                m,
                int(r["calls"]),
                int(r["prompt_tokens"]),
                int(r["completion_tokens"]),
                f"${r['cost_usd']:.4f}",
            ]
            for m, r in grouped.iterrows()
        ]
        cost = _table(cost_rows, ["model", "calls", "prompt tokens", "completion tokens", "cost"])
    else:
        cost = "<p>No LLM calls (offline mutator).</p>"
    statuses = _table(sorted(run.status_counts().items()), ["status", "programs"])
    return (
        "<h2>Islands</h2>"
        + _table(island_rows, ["island", "programs", "best", "median"])
        + "<h2>Statuses</h2>"
        + statuses
        + "<h2>LLM cost</h2>"
        + cost
    )


def _payload(run: Run, max_nodes: int, max_code: int) -> dict[str, Any]:
    programs = run.programs
    ids, pos, sampled = lineage_layout(run, max_nodes)
    path = run.path_to_best()
    ranked = list(run.best(max_code).index)
    with_code: list[str] = []
    for pid in [*path, *ranked, *ids]:
        if len(with_code) >= max_code:
            break
        if pid not in with_code:
            with_code.append(pid)
    nodes = []
    for pid in ids:
        row = programs.loc[pid]
        metrics = {
            k[len("metric.") :]: _finite(row[k])
            for k in programs.columns
            if k.startswith("metric.")
        }
        nodes.append(
            {
                "id": pid,
                "parent": run.parent(pid),
                "x": pos[pid][0],
                "y": pos[pid][1],
                "score": _finite(row["score"]),
                "status": row["status"],
                "island": int(row["island"]) if _finite(row["island"]) is not None else None,
                "model": row["model"] if isinstance(row["model"], str) else None,
                "edit": row["edit_kind"] if isinstance(row["edit_kind"], str) else None,
                "reason": row["reason"] if isinstance(row["reason"], str) else "",
                "metrics": {k: v for k, v in metrics.items() if v is not None},
            }
        )
    return {
        "problem": str(run.settings.get("problem", "")),
        "total": len(programs),
        "sampled": sampled,
        "path": path,
        "nodes": nodes,
        "code": {pid: run.code(pid) for pid in with_code},
        "diff": {pid: run.diff(pid) for pid in with_code},
    }


def build_report(run: Run, max_nodes: int = 3000, max_code: int = 300) -> str:
    """The whole page as one string."""
    template = resources.files("evolve").joinpath("report_template.html").read_text()
    data = json.dumps(_payload(run, max_nodes, max_code), allow_nan=False, default=str)
    data = data.replace("</", "<\\/").replace("<!--", "<\\!--")
    best = run.best(1)
    best_text = "-" if best.empty else f"{best['score'].iloc[0]:.6g} ({best.index[0]})"
    fields = {
        "{{TITLE}}": html.escape(f"evolve report: {run.settings.get('problem', run.path.name)}"),
        "{{SUMMARY}}": html.escape(
            f"{len(run.programs)} programs, best {best_text}, run directory {run.path}"
        ),
        "{{CURVE}}": _curve_svg(run),
        "{{TABLES}}": _summaries(run),
        "{{DATA}}": data,
    }
    for key, value in fields.items():
        template = template.replace(key, value)
    return template


def write_report(run_dir: str | Path, out: str | Path) -> Path:
    """Write the report of ``run_dir`` to ``out``; returns the path."""
    page = build_report(Run.open(run_dir))
    out = Path(out)
    out.write_text(page, encoding="utf-8")
    return out
