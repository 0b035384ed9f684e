"""What `evolve show` prints: read from the run store only, so it works on a
finished run and on one that is still being written."""

from __future__ import annotations

import json
import statistics
from collections import Counter
from pathlib import Path
from typing import Any

from evolve.analysis.probes import ProgramProbes, describe_counts, read_probes
from evolve.records import EventKind
from evolve.store import RunStore

__all__ = ["format_summary", "run_summary"]


def run_summary(run_dir: Path, top: int = 5) -> dict[str, Any]:
    """Counts, best score and top programs of the run at ``run_dir``."""
    store = RunStore.open(run_dir)
    settings = store.settings
    rows = store.read_table("programs").to_pylist()
    events = store.read_table("events").to_pylist()
    checkpoint = store.load_checkpoint(database=False) or {}
    evaluated = [r for r in rows if r["duplicate_of"] is None]
    statuses = Counter(r["status"] for r in evaluated)
    maximize = store.maximize
    scored = [r for r in evaluated if r["score"] is not None]
    scored.sort(key=lambda r: (-r["fitness"], r["iteration"]))
    seed = next((r for r in rows if r["edit_kind"] == "seed"), None)
    event_counts = Counter(e["kind"] for e in events)
    islands = Counter(r["island"] for r in evaluated)
    # not the texts (messages, completion: schema 6), which are most of the table
    calls = store.read_table(
        "llm_calls", columns=["model", "prompt_tokens", "completion_tokens", "cost_usd", "error"]
    ).to_pylist()
    by_model: dict[str, dict[str, float]] = {}
    for call in calls:
        entry = by_model.setdefault(
            call["model"], {"calls": 0, "errors": 0, "tokens": 0, "cost_usd": 0.0}
        )
        entry["calls"] += 1
        entry["errors"] += _failed(call)
        entry["tokens"] += (call["prompt_tokens"] or 0) + (call["completion_tokens"] or 0)
        entry["cost_usd"] += call["cost_usd"] or 0.0
    staleness = [r["staleness"] for r in evaluated if r.get("staleness") is not None]
    problem_changes = [
        {
            "iteration": e["iteration"],
            "time": e["time"],
            "reason": payload["reason"],
            "files": [f"{c['path']} ({c['kind']})" for c in payload["changes"]],
        }
        for e in events
        if e["kind"] == EventKind.PROBLEM_CHANGED
        for payload in [json.loads(e["payload"])]
    ]
    holdouts = {
        payload["program_id"]: payload
        for e in events
        if e["kind"] == EventKind.HOLDOUT
        for payload in [json.loads(e["payload"])]
    }
    best_holdout = holdouts.get(scored[0]["id"]) if scored else None
    probes = read_probes(store)
    probe_summary = probes.summary()
    probe_summary["programs"] = probe_summary["programs"][: max(top, 10)]
    return {
        "run_dir": str(run_dir),
        "problem": settings.get("problem"),
        "direction": "maximize" if maximize else "minimize",
        "programs": len(rows),
        "evaluated": len(evaluated),
        "duplicates": len(rows) - len(evaluated),
        "statuses": dict(statuses),
        "rejected_edits": event_counts.get(EventKind.EDIT_REJECTED, 0),
        "migrations": event_counts.get(EventKind.MIGRATION, 0),
        # rejected edits turned away by the [novelty] check, before any evaluation
        "not_novel": sum(
            '"kind": "not_novel"' in e["payload"]
            for e in events
            if e["kind"] == EventKind.EDIT_REJECTED
        ),
        # [database] stagnation_window: islands found stuck, and what followed
        "stagnation": {
            "stagnated": event_counts.get(EventKind.ISLAND_STAGNATED, 0),
            "reseeded": event_counts.get(EventKind.ISLAND_RESEEDED, 0),
            "spawned": event_counts.get(EventKind.ISLAND_SPAWNED, 0),
        },
        "programs_per_island": {str(k): v for k, v in sorted(islands.items())},
        "seed_score": seed["score"] if seed else None,
        "best_score": scored[0]["score"] if scored else None,
        "best_id": scored[0]["id"] if scored else None,
        # held-out scoring (evaluate_holdout) of the programs that became the best:
        # recorded apart from them (holdout events), never shown to the LLM
        "holdout": {
            "scored": len(holdouts),
            "failed": sum(p["status"] != "ok" for p in holdouts.values()),
            "best": None
            if best_holdout is None
            else {
                "status": best_holdout["status"],
                "score": best_holdout["score"],
                "reason": best_holdout["reason"],
            },
        },
        "staleness": {
            "median": statistics.median(staleness) if staleness else None,
            "max": max(staleness) if staleness else None,
            "dropped": event_counts.get(EventKind.STALE_DROPPED, 0),
        },
        "llm": {
            "calls": len(calls),
            "errors": sum(_failed(c) for c in calls),
            "cancelled": sum(_cancelled(c) for c in calls),
            "tokens": sum(m["tokens"] for m in by_model.values()),
            "cost_usd": sum(m["cost_usd"] for m in by_model.values()),
            "by_model": by_model,
        },
        "stop_reason": checkpoint.get("controller", {}).get("stop_reason", ""),
        # accepted changes of the problem files (evolve.store.pins): results
        # before and after each were scored by different files
        "problem_changes": problem_changes,
        "branched_from": settings.get("branched_from"),  # evolve branch
        # what candidates tried that their sandbox refused (evolve.analysis.probes)
        "probes": probe_summary,
        "top": [
            {
                "id": r["id"],
                "score": r["score"],
                "island": r["island"],
                "generation": r["generation"],
                "parent": (r["parent_ids"] or [None])[0],
                "tried": _tried(probes.programs.get(r["id"])),
            }
            for r in scored[:top]
        ],
    }


def _tried(program: ProgramProbes | None) -> str | None:
    """What a program tried (``read 3``; '' for nothing), None where unmonitored."""
    return None if program is None else program.describe()


def _cancelled(call: dict[str, Any]) -> bool:
    """A call a stop cancelled: recorded, but no failure of the endpoint."""
    return bool(call["error"]) and str(call["error"]).startswith("cancelled")


def _failed(call: dict[str, Any]) -> bool:
    return call["error"] is not None and not _cancelled(call)


def _stagnation_note(counts: dict[str, int]) -> str:
    if not counts["stagnated"]:
        return ""
    return (
        f"  stagnant {counts['stagnated']} (reseeded {counts['reseeded']}, "
        f"spawned {counts['spawned']})"
    )


def format_summary(summary: dict[str, Any]) -> str:
    """Human-readable rendering of ``run_summary``."""
    statuses = ", ".join(f"{k} {v}" for k, v in sorted(summary["statuses"].items()))
    lines = [
        f"run        {summary['run_dir']}  ({summary['problem']}, {summary['direction']})",
        f"programs   {summary['programs']} ({summary['evaluated']} evaluated, "
        f"{summary['duplicates']} duplicates, {summary['rejected_edits']} rejected edits"
        + (f", {summary['not_novel']} of them not novel" if summary["not_novel"] else "")
        + ")",
        f"statuses   {statuses or 'none'}",
        f"islands    {json.dumps(summary['programs_per_island'])}  "
        f"migrations {summary['migrations']}{_stagnation_note(summary['stagnation'])}",
        f"seed score {_fmt(summary['seed_score'])}",
        f"best score {_fmt(summary['best_score'])}{_holdout_note(summary)}",
    ]
    stale = summary["staleness"]
    if stale["median"] is not None:
        lines.append(
            f"staleness  median {stale['median']:g}, max {stale['max']} programs behind "
            f"when evaluated; {stale['dropped']} children over the cap dropped"
        )
    llm = summary["llm"]
    if llm["calls"]:
        lines.append(
            f"llm        {llm['calls']} calls ({llm['errors']} failed, {llm['cancelled']} "
            f"cancelled by a stop), {llm['tokens']} tokens, ${llm['cost_usd']:.4f}"
        )
        for model, m in sorted(llm["by_model"].items()):
            lines.append(
                f"  {model:<24} {m['calls']} calls, {m['tokens']} tokens, ${m['cost_usd']:.4f}"
            )
    if summary["stop_reason"]:
        lines.append(f"stopped    {summary['stop_reason']}")
    origin = summary.get("branched_from")
    if origin:
        where = (
            f"program {origin['program']} (score {_fmt(origin.get('score'))})"
            if origin.get("program")
            else f"iteration {origin['checkpoint']} ({origin['programs']} programs)"
        )
        lines.append(f"branched   from {where} of {origin['run']}")
    for change in summary["problem_changes"]:
        lines.append(
            f"problem changed at iteration {change['iteration']}: "
            f"{', '.join(change['files'])}; accepted: {change['reason']}"
        )
    lines += _probe_lines(summary.get("probes"))
    if summary["top"]:
        lines.append("")
        lines.append(f"{'id':<10} {'score':>14} {'island':>6} {'gen':>5}  {'parent':<10} tried")
        for r in summary["top"]:
            tried = r.get("tried")
            lines.append(
                f"{r['id']:<10} {_fmt(r['score']):>14} {r['island']:>6} "
                f"{r['generation']:>5}  {r['parent'] or '-':<10} "
                f"{'?' if tried is None else tried or '-'}"
            )
    return "\n".join(lines)


def _probe_lines(probes: dict[str, Any] | None) -> list[str]:
    """The run-level count of programs that tried what their sandbox refuses,
    and the first line of each (most attempts first)."""
    if not probes:
        return []
    if not probes["monitored"]:
        if not probes["unmonitored_evaluations"]:
            return []
        return [
            "probes     unknown: no evaluation was monitored (a run before schema 7, "
            "or a sandbox without a seccomp listener)"
        ]
    monitored = probes["monitored"]
    if not probes["programs_tried"]:
        return [f"probes     none: {monitored} monitored programs tried nothing refused"]
    counts = describe_counts(probes["counts"])
    lines = [
        f"probes     {probes['programs_tried']} of {monitored} monitored programs tried what "
        f"the sandbox refuses ({counts}), first at iteration {probes['first_iteration']}"
    ]
    for p in probes["programs"]:
        kinds = describe_counts(p["counts"])
        lines.append(f"  {p['id']:<10} iteration {p['iteration']:<5} {kinds}: {p['first']}")
    return lines


def _holdout_note(summary: dict[str, Any]) -> str:
    """``  held-out 0.93 (3 bests held-out scored)`` beside the best score ('' when
    the run held-out scored nothing)."""
    holdout = summary.get("holdout") or {}
    if not holdout.get("scored"):
        return ""
    best = holdout.get("best")
    if best is None:
        value = "not scored"
    elif best["status"] == "ok":
        value = _fmt(best["score"])
    else:
        value = f"{best['status']} ({best['reason'][:120]})" if best["reason"] else best["status"]
    failed = f", {holdout['failed']} failed" if holdout["failed"] else ""
    count = holdout["scored"]
    return f"  held-out {value} ({count} best{'s' * (count != 1)} held-out scored{failed})"


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.6g}"
