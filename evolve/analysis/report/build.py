"""`evolve report RUN_DIR -o report.html`: one self-contained HTML file.

The page needs no network and no server: CSS and JS are inlined from this
package's ``assets/``, the data is embedded as JSON in a
``<script type="application/json">`` tag (every ``<`` escaped, so no program
text can close the tag), the score curve is inline SVG and a small
vanilla-JS renderer draws the lineage tree. Program text is hostile: the page
only ever puts it in the DOM with ``textContent``, and the Content-Security-Policy
allows only the page's own script and style (by hash), no network at all.

Big runs: the tree shows at most ``max_nodes`` programs (the path to the best
plus an even sample) and code and diffs are embedded for at most ``max_code``
programs (the path to the best and the top scores first); the page says so.
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import math
import re
from importlib import resources
from pathlib import Path
from typing import Any

from evolve.analysis.plots import lineage_layout
from evolve.analysis.probes import PROBE_KINDS, describe_counts
from evolve.analysis.report.html import curve_svg, finite, probe_section, summary_tables
from evolve.analysis.run import Run
from evolve.store.reviews import Decision, ReviewLog

__all__ = ["build_report", "embed_json", "write_report"]

MAX_NODES = 3000  # programs drawn in the tree (an SVG of more gets slow to use)
MAX_CODE = 300  # programs whose code and diff are embedded (keeps the file a few MB)


def embed_json(data: Any) -> str:
    """JSON safe inside ``<script type="application/json">``: every ``<`` is
    written ``\\u003c`` (still valid JSON, read back by JSON.parse), so hostile
    text can neither end the element (``</script>``) nor switch the HTML parser
    into its escaped states (``<!--<script>``)."""
    return json.dumps(data, allow_nan=False, default=str).replace("<", "\\u003c")


def _payload(run: Run, max_nodes: int, max_code: int) -> dict[str, Any]:
    programs = run.programs
    ids, pos, sampled = lineage_layout(run, max_nodes)
    path = run.path_to_best()
    with_code = list(dict.fromkeys([*path, *run.best(max_code).index, *ids]))[:max_code]
    rows = programs.loc[ids]
    metric_columns = [c for c in programs.columns if c.startswith("metric.")]
    metrics = rows[metric_columns].to_dict("records") if metric_columns else [{}] * len(ids)

    def text(value: Any) -> str | None:
        return value if isinstance(value, str) and value else None

    calls = run.llm_calls
    prompt_hashes = dict(zip(calls["id"], calls["prompt_hash"], strict=True)) if len(calls) else {}
    reviews = ReviewLog(run.path).latest()
    verified = _verifications(run.path)
    probes = _probe_texts(run)

    nodes = [
        {
            "id": pid,
            "parent": run.parent(pid),
            "x": pos[pid][0],
            "y": pos[pid][1],
            "score": finite(score),
            "status": status,
            "island": None if finite(island) is None else int(island),
            "generation": int(generation),
            "iteration": int(iteration),
            "model": text(model),
            "edit": text(edit),
            "reason": text(reason) or "",
            # provenance: what produced it, and what people and evolve verify said
            "parents": [str(p) for p in (parent_ids if parent_ids is not None else ())],
            "prompt_hash": prompt_hashes.get(call_id) if isinstance(call_id, str) else None,
            "record_hash": text(record),
            "review": _review_text(reviews.get(pid)),
            "verified": verified.get(pid),
            # what it tried that its sandbox refused (None: not monitored)
            "probes": probes.get(pid),
            "metrics": {
                name[len("metric.") :]: finite(v) for name, v in m.items() if finite(v) is not None
            },
        }
        for (
            pid,
            score,
            status,
            island,
            generation,
            iteration,
            model,
            edit,
            reason,
            parent_ids,
            call_id,
            record,
            m,
        ) in zip(
            ids,
            rows["score"],
            rows["status"],
            rows["island"],
            rows["generation"].fillna(0),
            rows["iteration"].fillna(0),
            rows["model"],
            rows["edit_kind"],
            rows["reason"],
            rows["parent_ids"],
            rows["llm_call_id"],
            rows["record_hash"],
            metrics,
            strict=True,
        )
    ]
    return {
        "problem": str(run.settings.get("problem", "")),
        "total": len(programs),
        "maximize": run.maximize,
        "sampled": sampled,
        "path": path,
        "nodes": nodes,
        "code": {pid: run.code(pid) for pid in with_code},
        "diff": {pid: run.diff(pid) for pid in with_code},
    }


def _probe_texts(run: Run) -> dict[str, dict[str, Any]]:
    """Program id -> what it tried that its sandbox refused: ``tried`` (``read 3,
    network 1``, '' for nothing) and the ``log`` lines (evolve.analysis.probes)."""
    found: dict[str, dict[str, Any]] = {}
    for row in run.probes.to_dict("records"):
        tried = describe_counts({k: row[k] for k in PROBE_KINDS})
        found[str(row["program_id"])] = {"tried": tried, "log": [str(x) for x in row["log"]]}
    return found


def _review_text(decision: Decision | None) -> str | None:
    if decision is None:
        return None
    return f"{decision.decision} by {decision.by}: {decision.note}"


def _verifications(run_dir: Path) -> dict[str, str]:
    """Program id -> what the latest ``evolve verify`` certificate in
    ``RUN/verify/`` says of it (a certificate that does not read is skipped:
    the report shows a run, it does not judge certificates)."""
    found: dict[str, tuple[float, str]] = {}
    for path in sorted((run_dir / "verify").glob("certificate-*.json")):
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
            pid, made = str(document["program"]["id"]), float(document["created_at"])
            verdict = str(document["repeats"]["verdict"])
        except (OSError, ValueError, KeyError, TypeError):
            continue
        if pid not in found or made > found[pid][0]:
            chain = "chain holds" if document.get("run", {}).get("chain_ok") else "chain BROKEN"
            found[pid] = (made, f"{verdict}, {chain} ({path.name})")
    return {pid: text for pid, (_, text) in found.items()}


def _asset(name: str) -> str:
    return (
        resources.files("evolve.analysis.report")
        .joinpath("assets", name)
        .read_text(encoding="utf-8")
    )


def _csp_hash(text: str) -> str:
    return "sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode()


def build_report(run: Run, max_nodes: int = MAX_NODES, max_code: int = MAX_CODE) -> str:
    """The whole page as one string."""
    css, js = _asset("report.css"), _asset("report.js")
    best = run.best(1)
    best_text = "-" if best.empty else f"{best['score'].iloc[0]:.6g} ({best.index[0]})"
    holdouts = run.holdouts  # held-out scorings (evaluate_holdout) of the new bests
    count = len(holdouts)
    if not best.empty and count:
        value = float(best["holdout_score"].iloc[0])
        mine = holdouts[holdouts["program_id"] == best.index[0]]
        value_text = (
            f"{value:.6g}"
            if math.isfinite(value)
            else "not scored"
            if mine.empty
            else str(mine["status"].iloc[-1])
        )
        best_text += (
            f", held-out score {value_text} ({count} best{'s' * (count != 1)} held-out scored)"
        )
    title = f"evolve report: {run.settings.get('problem', run.path.name)}"
    summary = f"{len(run.programs)} programs, best {best_text}, run directory {run.path}"
    tried = run.probe_summary
    if tried["programs_tried"]:
        summary += (
            f"; {tried['programs_tried']} of {tried['monitored']} monitored programs tried "
            "what their sandbox refuses (see Sandbox probes)"
        )
    for change in run.problem_changes.to_dict("records"):
        summary += (
            f"; problem files changed at iteration {change['iteration']} "
            f"({', '.join(change['files'])}), accepted: {change['reason']}"
        )
    fields = {
        "TITLE": html.escape(title),
        "SUMMARY": html.escape(summary),
        "CURVE": curve_svg(run.progress()),
        "TABLES": summary_tables(run.island_summary(), run.status_counts(), run.cost_summary())
        + probe_section(run.probe_summary),
        "DATA": embed_json(_payload(run, max_nodes, max_code)),
        "CSS": css,
        "JS": js,
        "CSS_HASH": _csp_hash(css),
        "JS_HASH": _csp_hash(js),
    }
    # One pass: text inserted for one field is never searched for another's marker.
    return re.sub(r"\{\{([A-Z_]+)\}\}", lambda m: fields[m.group(1)], _asset("template.html"))


def write_report(
    run_dir: str | Path,
    out: str | Path | None = None,
    max_nodes: int = MAX_NODES,
    max_code: int = MAX_CODE,
) -> Path:
    """Write the report of ``run_dir`` to ``out`` (default ``RUN_DIR/report.html``)."""
    run = Run.open(run_dir)
    path = Path(out) if out is not None else Path(run_dir) / "report.html"
    path.write_text(build_report(run, max_nodes, max_code), encoding="utf-8")
    return path
