"""Stops that stop: with proposals that never answer (an LLM endpoint that
hangs), every stop reason ends the run promptly. The proposals in flight are
cancelled and left unsettled in the checkpoint (a resume redoes them), the
evaluations in flight finish and are recorded, and nothing is counted as a
rejected edit.

The bound on each run is behavioural, not a benchmark: the hanging proposals
would never return, so a run that ends at all within ``STOP_BOUND_S`` stopped
them; without the fix these runs never end and ``asyncio.wait_for`` fails them.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from evolve.config import load_problem
from evolve.database import PopulationDatabase
from evolve.engine import Controller, Progress, RunLimits
from evolve.mutation import BudgetExhausted
from evolve.records import EventKind, Program
from evolve.store import RunStore
from tests.engine.fakes import HANG, ScoringExecutor, ScriptedProposer, Step, make_controller

STOP_BOUND_S = 15.0  # the hanging proposals never return: any end at all is a stop
EVAL_S = 0.5  # how long the evaluation in flight at the stop takes

pytestmark = pytest.mark.timeout(120)  # a safety net; the bound above is what fails

# Every schedule, as RunLimits keywords; M = 2 proposals and K = 3 evaluations,
# so each leaves 2 proposals hanging once the first child is being evaluated.
SCHEDULES: dict[str, dict[str, Any]] = {
    "pipeline": {"proposals": 2},
    "coupled": {"schedule": "coupled"},
    "ordered": {"ordered": True, "proposals": 2},
}
ORDERED = pytest.mark.parametrize("schedule", list(SCHEDULES))


def waiting_in_window(schedule: str) -> int:
    """Iterations the ordered schedule drew that wait for a proposal slot (its
    window is K + M = 5: the child, 2 hanging proposals, 2 waiting); they are
    unsettled too."""
    return 2 if schedule == "ordered" else 0


def first_then_hang(value: float = 1.0) -> Callable[[Program, int], Step]:
    """The first proposal gives ``x = value``; every later one hangs."""
    return lambda parent, call: value if call == 0 else HANG


def run_bounded(
    controller: Controller, during: Callable[[], None] | None = None, **limits: Any
) -> tuple[Progress, float]:
    """Score the seed, then run under ``STOP_BOUND_S``; ``during`` is called once the
    run is under way (on the event loop). Returns the progress and the run's seconds."""
    asyncio.run(controller.evaluate_seed())

    async def bounded() -> Progress:
        if during is not None:
            asyncio.get_running_loop().call_later(0.2, during)
        return await asyncio.wait_for(controller.run(RunLimits(**limits)), STOP_BOUND_S)

    started = time.monotonic()
    progress = asyncio.run(bounded())
    return progress, time.monotonic() - started


def check_stopped_cleanly(
    controller: Controller,
    proposer: ScriptedProposer,
    progress: Progress,
    reason: str,
    evaluated_child: float,
    cancelled: int,
    unsettled_extra: int = 0,
) -> None:
    """The stop reason everywhere, the child in flight recorded, the hanging
    proposals cancelled and unsettled, no rejected edit."""
    assert progress.stop_reason == reason
    store = RunStore.open(controller.store.root)
    programs = store.read_table("programs").to_pylist()
    events = store.load_events()
    checkpoint = store.load_checkpoint()
    assert checkpoint is not None
    # The seed and the child that was being evaluated when the run stopped.
    assert sorted(p["score"] for p in programs) == [0.0, evaluated_child]
    assert all(p["status"] == "ok" for p in programs)
    assert progress.evaluations_this_run == 1
    # The hanging proposals were cancelled, not rejected ...
    assert proposer.cancelled == cancelled
    assert progress.rejected_edits == 0
    assert not [e for e in events if e["kind"] == EventKind.EDIT_REJECTED]
    # ... and their iterations are left for a resume to redo, with their samples.
    unsettled = checkpoint["unsettled"]
    child_iteration = next(p["iteration"] for p in programs if p["score"] == evaluated_child)
    drawn = set(range(1, 2 + cancelled + unsettled_extra))
    assert {u["iteration"] for u in unsettled} == drawn - {child_iteration}
    assert all(u["parent"] == "p000000" for u in unsettled)
    assert checkpoint["controller"]["stop_reason"] == reason
    stops = [e for e in events if e["kind"] == EventKind.STOP]
    assert [e["payload"]["stop_reason"] for e in stops] == [reason]


@ORDERED
def test_max_time_stops_a_run_whose_proposals_hang(tmp_path: Path, schedule: str) -> None:
    proposer = ScriptedProposer(first_then_hang())
    controller = make_controller(tmp_path, proposer, ScoringExecutor(delay_s=EVAL_S))
    progress, elapsed = run_bounded(
        controller, evaluations=1000, concurrency=3, max_time_s=0.2, **SCHEDULES[schedule]
    )
    assert elapsed < STOP_BOUND_S
    check_stopped_cleanly(
        controller,
        proposer,
        progress,
        "max_time",
        1.0,
        cancelled=2,
        unsettled_extra=waiting_in_window(schedule),
    )


@ORDERED
@pytest.mark.parametrize("caller", ["loop", "thread"])
def test_a_stop_request_cancels_hanging_proposals(
    tmp_path: Path, schedule: str, caller: str
) -> None:
    """``request_stop`` is what Ctrl-C and SIGTERM call, on the event loop; a
    notebook may call it from another thread."""
    proposer = ScriptedProposer(first_then_hang())
    controller = make_controller(tmp_path, proposer, ScoringExecutor(delay_s=EVAL_S))

    def stop() -> None:
        if caller == "loop":
            controller.request_stop("interrupted")
        else:
            threading.Thread(target=controller.request_stop, args=("interrupted",)).start()

    progress, elapsed = run_bounded(
        controller, during=stop, evaluations=1000, concurrency=3, **SCHEDULES[schedule]
    )
    assert elapsed < STOP_BOUND_S
    check_stopped_cleanly(
        controller,
        proposer,
        progress,
        "interrupted",
        1.0,
        cancelled=2,
        unsettled_extra=waiting_in_window(schedule),
    )


@ORDERED
def test_a_spent_budget_cancels_the_proposals_still_waiting(tmp_path: Path, schedule: str) -> None:
    # Proposal 0 gives a child, 1 hangs, 2 finds the budget spent.
    def script(parent: Program, call: int) -> Step:
        return {0: 1.0, 2: BudgetExhausted("spent $1.00 of $1.00")}.get(call, HANG)

    proposer = ScriptedProposer(script)
    controller = make_controller(tmp_path, proposer, ScoringExecutor(delay_s=EVAL_S))
    progress, elapsed = run_bounded(
        controller, evaluations=1000, concurrency=3, **SCHEDULES[schedule]
    )
    assert elapsed < STOP_BOUND_S
    # The proposal that met the spent budget is unsettled too (it was drawn).
    check_stopped_cleanly(
        controller,
        proposer,
        progress,
        "budget",
        1.0,
        cancelled=1,
        unsettled_extra=1 + waiting_in_window(schedule),
    )


@ORDERED
def test_reaching_the_target_cancels_the_proposals_still_waiting(
    tmp_path: Path, schedule: str
) -> None:
    proposer = ScriptedProposer(first_then_hang(value=5.0))
    controller = make_controller(tmp_path, proposer, ScoringExecutor(delay_s=EVAL_S))
    progress, elapsed = run_bounded(
        controller, evaluations=1000, concurrency=3, target=5.0, **SCHEDULES[schedule]
    )
    assert elapsed < STOP_BOUND_S
    check_stopped_cleanly(
        controller,
        proposer,
        progress,
        "target_reached",
        5.0,
        cancelled=2,
        unsettled_extra=waiting_in_window(schedule),
    )


def test_a_resume_redoes_the_cancelled_iterations_first(tmp_path: Path) -> None:
    proposer = ScriptedProposer(first_then_hang())
    controller = make_controller(tmp_path, proposer, ScoringExecutor(delay_s=EVAL_S))
    run_bounded(controller, evaluations=1000, concurrency=3, proposals=2, max_time_s=0.2)
    store = RunStore.open(controller.store.root)
    checkpoint = store.load_checkpoint()
    assert checkpoint is not None
    cancelled = sorted(u["iteration"] for u in checkpoint["unsettled"])
    assert len(cancelled) == 2

    # What `evolve resume` does: the same store, database, counters and unsettled list.
    problem = load_problem(store.problem_dir)
    database = PopulationDatabase.restore(
        problem.spec.database, checkpoint["database"], program_lookup=store.get_program
    )
    resumed = Controller(
        problem,
        store,
        database,
        ScriptedProposer(lambda parent, call: float(call + 10)),
        ScoringExecutor(),
        seed=0,
        progress=Progress.from_state(checkpoint["controller"]),
    )
    resumed.restore_unsettled(checkpoint["unsettled"])
    progress = asyncio.run(resumed.run(RunLimits(evaluations=2, concurrency=1)))
    assert progress.stop_reason == "iterations"
    programs = RunStore.open(store.root).read_table("programs").to_pylist()
    redone = sorted(p["iteration"] for p in programs if p["score"] >= 10)
    assert redone == cancelled  # the very iterations, before any new one
    assert all(p["parent_ids"] == ["p000000"] for p in programs if p["score"] >= 10)
    final = RunStore.open(store.root).load_checkpoint()
    assert final is not None and final["unsettled"] == []


def test_the_iteration_limit_still_waits_for_proposals_in_flight(tmp_path: Path) -> None:
    """Not a stop: a slow (not hanging) proposal reserved within --iterations is
    awaited and evaluated, as before."""

    class Slow(ScriptedProposer):
        async def propose(
            self, parent: Program, inspirations: Any, seed: int, *, at: int = 0
        ) -> Any:
            await asyncio.sleep(0.2)
            return await super().propose(parent, inspirations, seed, at=at)

    proposer = Slow(lambda parent, call: float(call + 1))
    controller = make_controller(tmp_path, proposer, ScoringExecutor())
    progress, _ = run_bounded(controller, evaluations=4, concurrency=3)
    assert progress.stop_reason == "iterations" and progress.evaluations_this_run == 4
    assert proposer.cancelled == 0
    checkpoint = RunStore.open(controller.store.root).load_checkpoint()
    assert checkpoint is not None and checkpoint["unsettled"] == []
