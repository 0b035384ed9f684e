"""The controller alone: a scripted proposer, an in-memory executor, a real store
and database. One test per stop reason, and the duplicate paths of both schedules."""

from __future__ import annotations

import asyncio
from concurrent.futures import Future
from pathlib import Path

import pytest

from evolve.engine import Controller, Progress, RunLimits
from evolve.engine.scheduling import MAX_CONSECUTIVE_FAILED_PROPOSALS
from evolve.errors import SeedFailed
from evolve.mutation import BudgetExhausted, MutationError
from evolve.records import EventKind, Program
from evolve.store import RunStore
from sandboxes.job import EvalJob, EvalResult, Status
from tests.engine.fakes import ScoringExecutor, ScriptedProposer, make_controller


def run(controller: Controller, **limits: object) -> Progress:
    asyncio.run(controller.evaluate_seed())
    return asyncio.run(controller.run(RunLimits(**limits)))  # type: ignore[arg-type]


# Every schedule the engine has, as RunLimits keywords.
SCHEDULES: dict[str, dict[str, object]] = {
    "pipeline": {},
    "coupled": {"schedule": "coupled"},
    "ordered": {"ordered": True},
}
each_schedule = pytest.mark.parametrize("schedule", list(SCHEDULES))


def counting_up(parent: Program, call: int) -> float:
    return float(call + 1)  # every child new: 1, 2, 3, ...


def stored(controller: Controller) -> tuple[list[dict], list[dict]]:
    store = RunStore.open(controller.store.root)
    return store.read_table("programs").to_pylist(), store.load_events()


def stop_events(events: list[dict]) -> list[dict]:
    return [e for e in events if e["kind"] == EventKind.STOP]


@each_schedule
def test_iterations_stop_after_exactly_that_many_evaluations(tmp_path: Path, schedule: str) -> None:
    executor = ScoringExecutor()
    controller = make_controller(tmp_path, ScriptedProposer(counting_up), executor)
    progress = run(controller, evaluations=12, concurrency=3, **SCHEDULES[schedule])
    assert progress.stop_reason == "iterations"
    assert progress.evaluations_this_run == 12 and len(executor.jobs) == 13  # + the seed
    programs, events = stored(controller)
    assert len(programs) == 13
    assert [e["payload"]["stop_reason"] for e in stop_events(events)] == ["iterations"]
    checkpoint = RunStore.open(controller.store.root).load_checkpoint()
    assert checkpoint is not None and checkpoint["controller"]["stop_reason"] == "iterations"
    assert checkpoint["unsettled"] == []


@each_schedule
def test_target_reached_stops_before_the_iteration_limit(tmp_path: Path, schedule: str) -> None:
    controller = make_controller(tmp_path, ScriptedProposer(counting_up), ScoringExecutor())
    progress = run(controller, evaluations=1000, concurrency=2, target=5.0, **SCHEDULES[schedule])
    assert progress.stop_reason == "target_reached"
    assert progress.best_score is not None and progress.best_score >= 5.0
    assert progress.evaluations_this_run < 20  # stopped at the target, not at 1000


@each_schedule
def test_a_minimised_target_is_reached_from_above(tmp_path: Path, schedule: str) -> None:
    down = ScriptedProposer(lambda parent, call: -float(call + 1))
    controller = make_controller(tmp_path, down, ScoringExecutor(), direction="minimize")
    progress = run(controller, evaluations=1000, concurrency=1, target=-3.0, **SCHEDULES[schedule])
    assert progress.stop_reason == "target_reached"
    assert progress.best_score is not None and progress.best_score <= -3.0
    # The coupled schedule stops at the target itself; the others also settle
    # the children already proposed (queued, or in the ordered window).
    assert (
        progress.evaluations_this_run == 3
        if schedule == "coupled"
        else 3 <= progress.evaluations_this_run <= 6
    )


def test_max_time_stops_a_run_with_no_iteration_limit_in_reach(tmp_path: Path) -> None:
    controller = make_controller(
        tmp_path, ScriptedProposer(counting_up), ScoringExecutor(delay_s=0.02)
    )
    progress = run(controller, evaluations=100_000, concurrency=2, max_time_s=0.3)
    assert progress.stop_reason == "max_time"
    assert 0 < progress.evaluations_this_run < 100_000
    programs, _ = stored(controller)
    assert len(programs) == progress.evaluations  # what was in flight was still recorded


@each_schedule
def test_budget_stops_the_run_and_keeps_what_was_evaluated(tmp_path: Path, schedule: str) -> None:
    def until_spent(parent: Program, call: int) -> float | BaseException:
        return BudgetExhausted("spent $1.00 of $1.00") if call >= 4 else float(call + 1)

    executor = ScoringExecutor()
    controller = make_controller(tmp_path, ScriptedProposer(until_spent), executor)
    progress = run(controller, evaluations=50, concurrency=2, **SCHEDULES[schedule])
    assert progress.stop_reason == "budget"
    assert 1 <= progress.evaluations_this_run <= 4
    programs, events = stored(controller)
    assert len(programs) == progress.evaluations
    assert [e["payload"]["stop_reason"] for e in stop_events(events)] == ["budget"]


def test_a_mutator_that_never_proposes_stops_the_run_as_stalled(tmp_path: Path) -> None:
    def never(parent: Program, call: int) -> BaseException:
        return MutationError("no valid edit for this parent")

    controller = make_controller(tmp_path, ScriptedProposer(never), ScoringExecutor())
    progress = run(controller, evaluations=10_000, concurrency=1)
    assert progress.stop_reason == "mutation_stalled"
    assert progress.rejected_edits == MAX_CONSECUTIVE_FAILED_PROPOSALS
    assert progress.evaluations_this_run == 0
    _, events = stored(controller)
    rejected = [e for e in events if e["kind"] == EventKind.EDIT_REJECTED]
    assert len(rejected) == MAX_CONSECUTIVE_FAILED_PROPOSALS
    assert rejected[0]["payload"]["kind"] == "no_proposal"
    assert "no valid edit" in rejected[0]["payload"]["reason"]


def test_a_new_child_resets_the_count_of_failed_proposals(tmp_path: Path) -> None:
    # 150 failures, a child, 150 failures, a child: 300 failures, never 200 in a row.
    def mostly_failing(parent: Program, call: int) -> float | BaseException:
        return float(call) if call in (150, 301) else MutationError("nothing")

    controller = make_controller(tmp_path, ScriptedProposer(mostly_failing), ScoringExecutor())
    progress = run(controller, evaluations=2, concurrency=1)
    assert progress.stop_reason == "iterations"
    assert progress.rejected_edits == 300


def test_an_interrupt_finishes_what_is_in_flight_and_saves(tmp_path: Path) -> None:
    controller: Controller | None = None

    def interrupt_after_five(progress: Progress) -> None:
        if progress.evaluations_this_run >= 5 and controller is not None:
            controller.request_stop()

    controller = make_controller(
        tmp_path,
        ScriptedProposer(counting_up),
        ScoringExecutor(delay_s=0.01),
        on_progress=interrupt_after_five,
    )
    progress = run(controller, evaluations=1000, concurrency=3)
    assert progress.stop_reason == "interrupted"
    # At most what was under way: K = 3 evaluating, and children proposed
    # (queue Q = 3, proposals M = 3) that were already paid for.
    assert 5 <= progress.evaluations_this_run <= 5 + 3 + 3 + 3
    programs, events = stored(controller)
    assert len(programs) == progress.evaluations
    assert [e["payload"]["stop_reason"] for e in stop_events(events)] == ["interrupted"]


def test_the_first_stop_reason_is_the_one_recorded(tmp_path: Path) -> None:
    controller = make_controller(tmp_path, ScriptedProposer(counting_up), ScoringExecutor())
    controller.request_stop("interrupted")
    controller.request_stop("budget")
    progress = run(controller, evaluations=10, concurrency=1)
    assert progress.stop_reason == "interrupted" and progress.evaluations_this_run == 0


def test_a_duplicate_of_a_child_in_flight_is_not_evaluated_twice(tmp_path: Path) -> None:
    # Two slots propose x = 7 at once: the second finds it in flight.
    proposer = ScriptedProposer(lambda parent, call: 7.0 if call < 2 else float(call))
    executor = ScoringExecutor(delay_s=0.2)
    controller = make_controller(tmp_path, proposer, executor)
    progress = run(controller, evaluations=3, concurrency=2)
    assert executor.evaluated_values().count(7.0) == 1
    assert progress.duplicates == 1
    _, events = stored(controller)
    in_flight = [e for e in events if e["kind"] == EventKind.DUPLICATE_IN_FLIGHT]
    assert len(in_flight) == 1 and in_flight[0]["payload"]["of"] == "p000001"


def test_the_ordered_schedule_records_a_duplicate_in_flight_once_the_original_settles(
    tmp_path: Path,
) -> None:
    proposer = ScriptedProposer(lambda parent, call: 7.0 if call < 2 else float(call))
    executor = ScoringExecutor(delay_s=0.1)
    controller = make_controller(tmp_path, proposer, executor)
    progress = run(controller, evaluations=3, concurrency=2, ordered=True)
    assert executor.evaluated_values().count(7.0) == 1
    programs, _ = stored(controller)
    duplicate = next(p for p in programs if p["duplicate_of"] is not None)
    original = next(p for p in programs if p["id"] == duplicate["duplicate_of"])
    assert (
        (duplicate["score"], duplicate["status"])
        == (original["score"], original["status"])
        == (
            7.0,
            "ok",
        )
    )
    assert progress.duplicates == 1 and progress.evaluations_this_run == 3


def test_a_duplicate_of_an_evaluated_program_reuses_its_result(tmp_path: Path) -> None:
    proposer = ScriptedProposer(lambda parent, call: 3.0 if call < 2 else float(call + 10))
    executor = ScoringExecutor()
    controller = make_controller(tmp_path, proposer, executor)
    progress = run(controller, evaluations=2, concurrency=1)
    assert executor.evaluated_values() == [0.0, 3.0, 12.0]
    programs, _ = stored(controller)
    duplicates = [p for p in programs if p["duplicate_of"] is not None]
    assert len(duplicates) == 1 and duplicates[0]["score"] == 3.0
    assert progress.duplicates == 1


def test_the_proposer_hears_how_each_child_and_each_rejection_did(tmp_path: Path) -> None:
    proposer = ScriptedProposer(lambda parent, call: 0.0 if call == 0 else float(call))
    controller = make_controller(tmp_path, proposer, ScoringExecutor())
    run(controller, evaluations=2, concurrency=1)
    # call 0 rewrites x = 0 into x = 0: a no-op edit, rejected with no fitness
    assert proposer.feedback_log == [
        ("```python\nx = 0\n```", None),
        ("```python\nx = 1\n```", 1.0),
        ("```python\nx = 2\n```", 2.0),
    ]


class BrokenScorer(ScoringExecutor):
    """Every evaluation errors, as with a scorer that raises."""

    def submit(self, job: EvalJob) -> Future[EvalResult]:
        self.jobs.append(job)
        future: Future[EvalResult] = Future()
        future.set_result(EvalResult(Status.ERROR, reason="ZeroDivisionError in scorer.py"))
        return future


def test_a_seed_that_fails_to_score_stops_with_the_scorer_to_fix(tmp_path: Path) -> None:
    controller = make_controller(tmp_path, ScriptedProposer(counting_up), BrokenScorer())
    with pytest.raises(SeedFailed, match=r"ZeroDivisionError in scorer\.py"):
        asyncio.run(controller.evaluate_seed())
    programs, _ = stored(controller)
    assert [p["status"] for p in programs] == ["error"]  # recorded before stopping
