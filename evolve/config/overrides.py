"""Limits set on the command line over a problem's own (``--timeout-s``,
``--memory-mb``, ...): for any folder, an OpenEvolve one included, without
writing a problem.toml (which would switch it to the native layout). A run
keeps them in run.json, so its resume and its branches use them too.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

from evolve.config.problem import Problem
from evolve.errors import UsageError

__all__ = ["LIMIT_FLAGS", "apply_overrides"]

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
