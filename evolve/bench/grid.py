"""Run a problem under every arm x seed at one evaluation budget, and read back
what each run found.

Each run is an ordinary evolve run (``OUT/<arm>/seed-<k>``, readable by
``evolve.Run`` and every command), started with the arm's overlay in its
options, so run.json records it and a resume or ``evolve verify`` reads the
problem as the run did. Budgets are matched in evaluations: every run stops
after the same number of evaluated children (a duplicate costs none), and its
LLM tokens and dollars are reported beside.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from evolve.analysis.run import Run
from evolve.bench.arms import BenchArm
from evolve.bench.stats import best_so_far, first_reaching
from evolve.config.overrides import load_as_run
from evolve.engine.runner import RunOptions, start_run
from evolve.engine.state import RunLimits
from evolve.mutation.setup import MutationSettings
from sandboxes.factory import SandboxKind

__all__ = ["ArmRun", "BenchSpec", "run_grid"]


@dataclass(frozen=True)
class BenchSpec:
    """What to run: ``problem`` under each of ``arms`` with each of ``seeds``,
    ``evaluations`` children per run."""

    problem: Path
    arms: tuple[BenchArm, ...]
    seeds: tuple[int, ...]
    evaluations: int
    threshold: float | None = None
    sandbox: SandboxKind | None = None
    mutation: MutationSettings = field(default_factory=MutationSettings)
    concurrency: int = 2
    deterministic: bool = True  # same seed, same lineage: a rerun prints the same table


@dataclass(frozen=True)
class ArmRun:
    """One run's result: its best, its curve (best after each evaluation, the
    seed's first) and its costs."""

    arm: str
    seed: int
    run_dir: str
    best: float | None
    evaluations: int
    tokens: int
    cost_usd: float
    curve: list[float]
    to_threshold: int | None
    stop_reason: str
    not_novel: int = 0  # proposals the [novelty] check turned away before scoring


def run_grid(
    spec: BenchSpec, out: Path, on_run: Callable[[ArmRun], None] | None = None
) -> list[ArmRun]:
    """Every arm x seed, in that order; each arm's overlay is checked on the
    problem before the first run starts, so a bad arm file costs nothing."""
    for arm in spec.arms:
        load_as_run(spec.problem, {"overlay": arm.overlay})
    maximize = load_as_run(spec.problem, {}).spec.objective.maximize
    runs = []
    for arm in spec.arms:
        for seed in spec.seeds:
            run = _one(spec, arm, seed, out / arm.name / f"seed-{seed}", maximize)
            runs.append(run)
            if on_run is not None:
                on_run(run)
    return runs


def _one(spec: BenchSpec, arm: BenchArm, seed: int, run_dir: Path, maximize: bool) -> ArmRun:
    options = RunOptions(
        seed=seed,
        sandbox=spec.sandbox,
        concurrency=spec.concurrency,
        deterministic=spec.deterministic,
        mutation=spec.mutation,
        overlay=arm.overlay,
    )
    limits = RunLimits(
        evaluations=spec.evaluations, concurrency=spec.concurrency, ordered=spec.deterministic
    )
    outcome = start_run(spec.problem, run_dir, options, limits)
    curve = best_so_far(_evaluated_scores(run_dir), maximize)
    progress = outcome.progress
    best = outcome.best.score if outcome.best is not None else None
    reached = None if spec.threshold is None else first_reaching(curve, spec.threshold, maximize)
    return ArmRun(
        arm=arm.name,
        seed=seed,
        run_dir=str(run_dir),
        best=best,
        evaluations=progress.evaluations_this_run,
        tokens=progress.llm_tokens,
        cost_usd=progress.cost_usd,
        curve=curve,
        to_threshold=reached,
        stop_reason=progress.stop_reason,
        not_novel=progress.not_novel,
    )


def _evaluated_scores(run_dir: Path) -> Sequence[float | None]:
    """The score of each evaluated program in the order they were recorded
    (duplicates reuse a result and cost no evaluation: left out)."""
    programs = Run.open(run_dir).programs
    evaluated = programs[programs["duplicate_of"].isna()]
    return [None if math.isnan(s) else float(s) for s in evaluated["score"].astype(float)]
