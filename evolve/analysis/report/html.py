"""The static parts of the report: the score curve as inline SVG and HTML tables.

Everything taken from the run is passed through :func:`html.escape`; numbers
are formatted here, never by the browser.
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from typing import Any

import pandas as pd

from evolve.analysis.probes import describe_counts

__all__ = ["curve_svg", "finite", "summary_tables", "table"]


def finite(value: Any) -> float | None:
    """``value`` as a float, or None when it is missing, NaN or infinite (JSON has
    no NaN, and the report must not show one as a score)."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _polyline(points: list[tuple[int, float]], xy: Any, colour: str, label: str) -> str:
    if not points:
        return ""
    coords = " ".join(xy(i, v) for i, v in points)
    return (
        f'<polyline class="{label}" fill="none" stroke="{colour}" stroke-width="2" '
        f'points="{coords}"><title>{label}</title></polyline>'
    )


def curve_svg(progress: pd.DataFrame, width: int = 640, height: int = 220) -> str:
    """Best score so far and the rolling median over evaluations, as one ``<svg>``."""
    best = [(i, v) for i, v in enumerate(map(finite, progress["best"])) if v is not None]
    median = [(i, v) for i, v in enumerate(map(finite, progress["median"])) if v is not None]
    if not best:
        return "<p>No scored evaluation yet.</p>"
    label = f"median of the last {progress.attrs.get('window', 1)}"
    values = [v for _, v in best + median]
    lo, hi = min(values), max(values)
    span = (hi - lo) or 1.0
    n = max(1, len(progress) - 1)

    def xy(i: int, v: float) -> str:
        x = 50 + (width - 60) * i / n
        y = height - 25 - (height - 40) * (v - lo) / span
        return f"{x:.1f},{y:.1f}"

    def text(x: float, y: float, words: str, **attrs: str) -> str:
        extra = "".join(f' {k.replace("_", "-")}="{v}"' for k, v in attrs.items())
        return f'<text x="{x}" y="{y}" font-size="11"{extra}>{html.escape(words)}</text>'

    return (
        f'<svg id="curve" viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
        'role="img" aria-label="best and median score over evaluations" '
        'xmlns="http://www.w3.org/2000/svg">'
        f'<line x1="50" y1="{height - 25}" x2="{width - 10}" y2="{height - 25}" stroke="#999"/>'
        f'<line x1="50" y1="15" x2="50" y2="{height - 25}" stroke="#999"/>'
        + _polyline(median, xy, "#ff7f0e", label)
        + _polyline(best, xy, "#1f77b4", "best so far")
        + text(60, 14, f"best {best[-1][1]:.6g}", fill="#1f77b4")
        + text(200, 14, label, fill="#ff7f0e")
        + text(50, height - 8, "0")
        + text(width - 10, height - 8, f"{len(progress)} evaluations", text_anchor="end")
        + text(46, height - 25, f"{lo:.4g}", text_anchor="end")
        + text(46, 22, f"{hi:.4g}", text_anchor="end")
        + "</svg>"
    )


def table(rows: Sequence[Sequence[Any]], header: Sequence[str], table_id: str = "") -> str:
    """An HTML table of escaped cells."""
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>" for row in rows
    )
    ident = f' id="{html.escape(table_id)}"' if table_id else ""
    return f"<table{ident}><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _number(value: Any, spec: str = ".6g") -> str:
    number = finite(value)
    return "-" if number is None else format(number, spec)


def summary_tables(islands: pd.DataFrame, statuses: dict[str, int], costs: pd.DataFrame) -> str:
    """Island, status and LLM cost tables with their headings."""
    island_rows = [
        [int(str(i)), int(r["programs"]), _number(r["best"]), _number(r["median"])]
        for i, r in islands.iterrows()
    ]
    status_rows = sorted(statuses.items())
    if costs.empty:
        cost = "<p>No LLM calls (offline mutator, or a replayed run).</p>"
    else:
        cost_rows = [
            [
                model,
                int(r["calls"]),
                int(r["prompt_tokens"]),
                int(r["completion_tokens"]),
                f"${_number(r['cost_usd'], '.4f')}",
                _number(r["latency_s"], ".2f"),
            ]
            for model, r in costs.iterrows()
        ]
        total = finite(costs["cost_usd"].sum()) or 0.0
        header = ["model", "calls", "prompt tokens", "completion tokens", "cost", "median s"]
        cost = table(cost_rows, header, "costs") + f"<p>Total ${total:.4f}.</p>"
    return (
        "<h2>Islands</h2>"
        + table(island_rows, ["island", "programs", "best", "median"], "islands")
        + "<h2>Statuses</h2>"
        + table(status_rows, ["status", "programs"], "statuses")
        + "<h2>LLM cost</h2>"
        + cost
    )


MAX_PROBE_ROWS = 50


def probe_section(summary: dict[str, Any]) -> str:
    """The run's count of programs that tried what their sandbox refuses
    (``Run.probe_summary``) and a row per such program, most attempts first."""
    heading = "<h2>Sandbox probes</h2>"
    if not summary["monitored"]:
        return heading + (
            "<p>Not monitored: no evaluation has a behaviour report (a run before "
            "schema 7, or a sandbox without a seccomp listener).</p>"
        )
    counts = describe_counts(summary["counts"]) or "nothing"
    intro = (
        f"<p>{summary['programs_tried']} of {summary['monitored']} monitored programs tried "
        f"what their sandbox refuses: {html.escape(counts)}.</p>"
    )
    if not summary["programs"]:
        return heading + intro
    shown = summary["programs"][:MAX_PROBE_ROWS]
    rows = [
        [
            p["id"],
            p["iteration"],
            describe_counts(p["counts"]),
            p["first"],
        ]
        for p in shown
    ]
    more = len(summary["programs"]) - len(shown)
    tail = f"<p>And {more} more (Run.probes lists them all).</p>" if more > 0 else ""
    header = ["program", "iteration", "tried", "first"]
    return heading + intro + table(rows, header, "probes") + tail
