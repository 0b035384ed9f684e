"""The review gate (`[governance] pause_on = "new_best"`): no proposal starts while
the best awaits a decision; a decision from another thread (as from another
terminal) lets the run go on; the run still ends at its limits."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from evolve.analysis.review import decide, new_bests
from evolve.engine.runner import RunOptions, start_run
from evolve.engine.state import Progress, RunLimits
from evolve.errors import ConfigError, UsageError
from evolve.store import RunStore
from tests.problem_factory import TOML, write_problem

GATED = TOML + '\n[governance]\npause_on = "new_best"\n'


def evaluated(run_dir: Path) -> int:
    rows = RunStore.open(run_dir).read_table("programs").to_pylist()
    return sum(r["duplicate_of"] is None for r in rows)


def test_a_new_best_holds_proposals_until_it_is_reviewed(tmp_path: Path) -> None:
    problem = write_problem(tmp_path / "problem", toml=GATED)
    out = tmp_path / "run"
    paused: list[str] = []
    held_still: list[bool] = []
    done = threading.Event()

    def on_progress(progress: Progress) -> None:
        if progress.paused_for and (not paused or paused[-1] != progress.paused_for):
            paused.append(progress.paused_for)

    def reviewer() -> None:
        """Waits for each pause, checks nothing new is evaluated meanwhile, approves."""
        handled = 0
        while not done.is_set():
            if len(paused) > handled:
                waiting = paused[handled]
                before = evaluated(out)
                time.sleep(1.5)  # the gate holds: no child is proposed, so none evaluated
                held_still.append(evaluated(out) == before)
                decide(out, waiting, "approved", "looked fine", by="test")
                handled += 1
            time.sleep(0.05)

    thread = threading.Thread(target=reviewer, daemon=True)
    thread.start()
    try:
        outcome = start_run(
            problem, out, RunOptions(seed=3), RunLimits(evaluations=12, concurrency=2), on_progress
        )
    finally:
        done.set()
        thread.join(timeout=30)
    assert outcome.progress.stop_reason == "iterations"
    assert evaluated(out) == 13  # the seed and the 12 children: the limit still counts exactly
    rows = RunStore.open(out).read_table("programs").to_pylist()
    bests = [r["id"] for r in new_bests(rows) if r["edit_kind"] != "seed"]
    assert paused, "the run never paused although children beat the seed"
    assert set(paused) <= set(bests)
    assert held_still and all(held_still)


def test_the_gate_needs_the_pipeline_schedule(tmp_path: Path) -> None:
    problem = write_problem(tmp_path / "problem", toml=GATED)
    with pytest.raises(UsageError, match="works with the default pipeline schedule"):
        start_run(
            problem,
            tmp_path / "run",
            RunOptions(seed=3),
            RunLimits(evaluations=2, concurrency=1, schedule="coupled"),
        )


def test_a_stop_ends_a_paused_run(tmp_path: Path) -> None:
    problem = write_problem(tmp_path / "problem", toml=GATED)
    started = time.monotonic()
    outcome = start_run(
        problem,
        tmp_path / "run",
        RunOptions(seed=3),
        RunLimits(evaluations=50, concurrency=2, max_time_s=4.0),
    )
    assert outcome.progress.stop_reason == "max_time"
    assert time.monotonic() - started < 60
    assert evaluated(tmp_path / "run") < 51  # it waited instead of evaluating all 50


def test_an_unknown_pause_on_is_refused(tmp_path: Path) -> None:
    problem = write_problem(tmp_path / "problem", toml=TOML + '\n[governance]\npause_on = "x"\n')
    with pytest.raises(ConfigError, match="pause_on"):
        start_run(problem, tmp_path / "run", RunOptions(), RunLimits(evaluations=1))
