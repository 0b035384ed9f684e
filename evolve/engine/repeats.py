"""Scoring a candidate more than once, for scorers whose result is noisy.

A noisy scorer makes a lucky draw look like a new best: the database then
ranks it first, prompts show it as the program to beat, and migration copies
it to other islands (ShinkaEvolve's issue #119). Two settings of
``[evaluation]`` answer it:

* ``repeats = R``: every candidate is scored R times and its metrics are the
  means (with ``<objective>_stderr`` and ``<objective>_repeats``);
* ``confirm_best = k``: a candidate whose mean would beat the best of its
  island (so also any new best of the run) is scored k more times first, and
  only the mean over all its runs counts, so a false elite is caught before it
  becomes the best or migrates.

Any run that fails makes the candidate fail (its first failure is what is
recorded): a program that sometimes crashes is not one to build on.
"""

from __future__ import annotations

import json
import math
from collections.abc import Awaitable, Callable, Sequence

import numpy as np

from evolve.config import EvaluationSpec, ObjectiveSpec
from evolve.engine.scoring import score_result
from evolve.records import Status
from sandboxes.job import EvalResult, Probes

__all__ = ["combine_results", "score_with_repeats"]

MAX_PROBE_LINES = 20  # the log of a combined result: the distinct lines, at most this many


def combine_results(results: Sequence[EvalResult], objective: ObjectiveSpec) -> EvalResult:
    """One result for several runs of the same candidate: the mean of each metric
    every run returned, the objective's standard error and count, the runs'
    objective values as the ``repeat_scores`` artifact, total wall time, peak
    memory, and every probe. The first failed run, if any, instead."""
    if not results:
        raise ValueError("combine_results needs at least one result")
    if len(results) == 1:
        return results[0]
    for k, result in enumerate(results, start=1):
        if result.status != Status.OK:
            note = f"run {k} of {len(results)} of this candidate failed"
            artifacts = {**result.artifacts, "repeats": note}
            return _merged(result, results, metrics=dict(result.metrics), artifacts=artifacts)
    names = set(results[0].metrics)
    for result in results[1:]:
        names &= set(result.metrics)
    metrics = {name: float(np.mean([r.metrics[name] for r in results])) for name in sorted(names)}
    artifacts = dict(results[0].artifacts)
    values = [r.metrics.get(objective.metric) for r in results]
    if objective.metric in metrics:
        observed = np.array(values, dtype=float)
        stderr = float(np.std(observed, ddof=1) / math.sqrt(len(observed)))
        metrics[f"{objective.metric}_stderr"] = stderr
        metrics[f"{objective.metric}_repeats"] = float(len(observed))
        artifacts["repeat_scores"] = json.dumps([float(f"{v:.6g}") for v in observed])
    return _merged(results[0], results, metrics=metrics, artifacts=artifacts)


def _merged(
    base: EvalResult,
    results: Sequence[EvalResult],
    *,
    metrics: dict[str, float],
    artifacts: dict[str, str],
) -> EvalResult:
    return EvalResult(
        status=base.status,
        metrics=metrics,
        artifacts=artifacts,
        reason=base.reason,
        wall_time_s=sum(r.wall_time_s for r in results),
        peak_memory_mb=max(r.peak_memory_mb for r in results),
        stage_reached=min(r.stage_reached for r in results),
        probes=_probes([r.probes for r in results]),
    )


def _probes(reports: Sequence[Probes | None]) -> Probes | None:
    """Every refusal of every run: counts added, distinct log lines, kinds seen."""
    present = [p for p in reports if p is not None]
    if not present:
        return None
    counts: dict[str, int] = {}
    log: list[str] = []
    seen: list[str] = []
    for report in present:
        for kind, count in report.counts.items():
            counts[kind] = counts.get(kind, 0) + count
        log.extend(line for line in report.log if line not in log)
        seen.extend(kind for kind in report.seen if kind not in seen)
    return Probes(counts, tuple(log[:MAX_PROBE_LINES]), tuple(seen))


async def score_with_repeats(
    run_once: Callable[[], Awaitable[EvalResult]],
    spec: EvaluationSpec,
    objective: ObjectiveSpec,
    best_fitness: Callable[[], float | None],
) -> tuple[EvalResult, int]:
    """(the candidate's result, the scorer runs it took beyond the first).

    ``run_once`` scores the candidate once; ``best_fitness`` is the fitness it
    must beat to be confirmed (its island's best now; None: no valid program).
    Runs one after another, so a candidate holds one evaluation slot however
    many runs it takes.
    """
    results = [await run_once()]
    for _ in range(spec.repeats - 1):
        if results[-1].status != Status.OK:
            break  # it has failed: further runs cannot make it pass
        results.append(await run_once())
    combined = combine_results(results, objective)
    if spec.confirm_best and _would_be_best(combined, objective, best_fitness()):
        for _ in range(spec.confirm_best):
            results.append(await run_once())
            if results[-1].status != Status.OK:
                break
        combined = combine_results(results, objective)
    return combined, len(results) - 1


def _would_be_best(result: EvalResult, objective: ObjectiveSpec, best: float | None) -> bool:
    fitness = score_result(result, objective).fitness
    return fitness is not None and (best is None or fitness > best)
