"""Settings over a problem's own, for any folder (an OpenEvolve one included)
without writing a problem.toml (which would switch it to the native layout):
limits set on the command line (``--timeout-s``, ``--memory-mb``, ...) and
overlays of whole tables (``[database]``, ``[prompt]``, ``[llm]``, ``[novelty]``,
``[meta]``, ``[judge]``: the arms of ``evolve bench``). A run keeps both in run.json, so its
resume, its branches and ``evolve verify`` read the problem as it did
(:func:`load_as_run`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from evolve.config.problem import Problem, load_problem
from evolve.config.problem_toml import ProblemToml
from evolve.config.strict import from_mapping
from evolve.errors import UsageError

__all__ = ["LIMIT_FLAGS", "OVERLAY_TABLES", "apply_overlay", "apply_overrides", "load_as_run"]

# Tables an overlay may set: how the search runs, never what the problem means
# (its objective, scorer, files and limits stay the problem's).
OVERLAY_TABLES = ("database", "prompt", "llm", "novelty", "meta", "judge")

# key -> (flag, type, what it replaces): the [evaluation] timeout and [resources] fields
LIMIT_FLAGS: dict[str, tuple[str, type, str]] = {
    "timeout_s": ("--timeout-s", float, "[evaluation] timeout_s: seconds per evaluation"),
    "memory_mb": ("--memory-mb", int, "[resources] memory_mb: address space per process"),
    "cpus": ("--cpus", float, "[resources] cpus: CPUs per evaluation"),
    "gpus": ("--gpus", int, "[resources] gpus: GPUs per evaluation"),
    "max_processes": ("--max-processes", int, "[resources] max_processes"),
}


def apply_overrides(problem: Problem, overrides: Mapping[str, float]) -> Problem:
    """``problem`` with the limits in ``overrides`` (keys of ``LIMIT_FLAGS``)
    replacing its own; a value its table refuses is a UsageError naming the flag."""
    unknown = sorted(set(overrides) - set(LIMIT_FLAGS))
    if unknown:
        raise UsageError(f"unknown limit override {unknown} (known: {', '.join(LIMIT_FLAGS)})")
    if not overrides:
        return problem
    spec = problem.spec
    resources = {k: v for k, v in overrides.items() if k != "timeout_s"}
    try:
        evaluation = spec.evaluation
        if "timeout_s" in overrides:
            evaluation = dataclasses.replace(evaluation, timeout_s=float(overrides["timeout_s"]))
        spec = dataclasses.replace(
            spec,
            evaluation=evaluation,
            resources=dataclasses.replace(spec.resources, **resources),  # type: ignore[arg-type]
        )
    except ValueError as exc:
        flags = ", ".join(LIMIT_FLAGS[k][0] for k in overrides)
        raise UsageError(f"{flags}: {exc}") from exc
    return dataclasses.replace(problem, spec=spec)


def apply_overlay(problem: Problem, overlay: Mapping[str, Any], source: str) -> Problem:
    """``problem`` with the keys of ``overlay``'s tables over its own (a table's
    other keys kept), checked as strictly as problem.toml; ``source`` names
    where the overlay came from in errors."""
    if not overlay:
        return problem
    unknown = sorted(set(overlay) - set(OVERLAY_TABLES))
    if unknown:
        raise UsageError(
            f"{source}: an overlay sets only {', '.join(OVERLAY_TABLES)}, not {unknown}"
        )
    data = dataclasses.asdict(problem.spec)
    for table, values in overlay.items():
        if not isinstance(values, Mapping):
            raise UsageError(f"{source}: [{table}] must be a table, got {values!r}")
        data[table] = {**(data.get(table) or {}), **values}
    return dataclasses.replace(problem, spec=from_mapping(ProblemToml, data, source))


def load_as_run(path: str | Path, settings: Mapping[str, Any]) -> Problem:
    """The problem folder at ``path`` as a run with these settings (run.json's,
    or its options') reads it: its config file, limit flags and overlay."""
    problem = load_problem(path, settings.get("config"))
    problem = apply_overrides(problem, settings.get("overrides") or {})
    return apply_overlay(problem, settings.get("overlay") or {}, f"{path} (run overlay)")
