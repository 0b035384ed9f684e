"""The pipelined schedule: proposals and evaluations in flight at once, the queue
bound, adaptive M, staleness recorded and capped, dedup against queued children,
K following the executor's capacity, and the ordered schedule's K + M window.

Concurrency is observed (peaks counted by the fakes as calls start), never
timed: each test asserts what the schedule let run at once.
"""

from __future__ import annotations

import asyncio
import random
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from evolve.engine import Controller, Progress, RunLimits
from evolve.executors.ray.capacity import jobs_that_fit
from evolve.mutation import Proposal
from evolve.records import EventKind, Program
from evolve.store import RunStore
from sandboxes.job import EvalJob, Resources
from tests.engine.fakes import ScoringExecutor, ScriptedProposer, make_controller


class TimedProposer(ScriptedProposer):
    """Each call takes ``delay(call)`` seconds; counts the calls in flight, and
    the evaluations in flight (``executor``) as each call starts."""

    def __init__(
        self,
        script: Callable[[Program, int], Any],
        delay: Callable[[int], float],
        executor: CountingExecutor,
    ) -> None:
        super().__init__(script)
        self.delay = delay
        self.executor = executor
        self.in_flight = 0
        self.peak = 0
        self.overlaps = 0  # calls started while K evaluations were running
        self.peak_after: dict[int, int] = {}  # evaluations finished -> peak since

    async def propose(
        self, parent: Program, inspirations: Sequence[Program], seed: int, *, at: int = 0
    ) -> Proposal:
        call = self.calls  # numbered as calls start (in iteration order when ordered)
        self.calls += 1
        self.in_flight += 1
        self.peak = max(self.peak, self.in_flight)
        done = self.executor.finished
        self.peak_after[done] = max(self.peak_after.get(done, 0), self.in_flight)
        if self.executor.in_flight >= self.executor.busy_at:
            self.overlaps += 1
        try:
            await asyncio.sleep(self.delay(call))
            value = self.script(parent, call)
            text = f"```python\nx = {value:g}\n```"
            return Proposal(text=text, model=self.name, edit_kind="rewrite")
        finally:
            self.in_flight -= 1


class CountingExecutor(ScoringExecutor):
    """``ScoringExecutor`` that counts evaluations in flight and their peak, and
    reports ``capacity`` (the K a run without --concurrency follows)."""

    def __init__(self, delay_s: float = 0.0, capacity: int = 4, busy_at: int = 2) -> None:
        super().__init__(delay_s=delay_s, max_workers=capacity)
        self.busy_at = busy_at
        self.in_flight = 0
        self.peak = 0
        self.finished = 0
        self._count = threading.Lock()

    def capacity(self) -> int:
        return self.max_workers

    def submit(self, job: EvalJob) -> Any:
        with self._count:
            self.in_flight += 1
            self.peak = max(self.peak, self.in_flight)
        future = super().submit(job)

        def done(_: Any) -> None:
            with self._count:
                self.in_flight -= 1
                self.finished += 1

        future.add_done_callback(done)
        return future


class JitteredExecutor(CountingExecutor):
    """Each evaluation takes a random 0-20 ms: results come back in any order."""

    def __init__(self, timing: random.Random) -> None:
        super().__init__()
        self.timing = timing

    def submit(self, job: EvalJob) -> Any:
        self.delay_s = self.timing.uniform(0, 0.02)
        return super().submit(job)


def counting_up(parent: Program, call: int) -> float:
    return float(call + 1)


def run(controller: Controller, **limits: Any) -> Progress:
    asyncio.run(controller.evaluate_seed())
    return asyncio.run(controller.run(RunLimits(**limits)))


def children(controller: Controller) -> list[dict[str, Any]]:
    rows = RunStore.open(controller.store.root).read_table("programs").to_pylist()
    return [r for r in rows if r["edit_kind"] != "seed"]


def events(controller: Controller, kind: str) -> list[dict[str, Any]]:
    return [e for e in RunStore.open(controller.store.root).load_events() if e["kind"] == kind]


def test_proposals_run_while_every_evaluator_is_busy(tmp_path: Path) -> None:
    executor = CountingExecutor(delay_s=0.05, busy_at=2)
    proposer = TimedProposer(counting_up, lambda call: 0.05, executor)
    controller = make_controller(tmp_path, proposer, executor)
    progress = run(controller, evaluations=30, concurrency=2, proposals=4)
    assert progress.stop_reason == "iterations" and progress.evaluations_this_run == 30
    assert proposer.peak == 4  # M calls out at once ...
    assert executor.peak == 2  # ... and never more than K evaluations
    assert proposer.overlaps > 0  # calls started while both evaluators were busy


def test_the_coupled_schedule_never_overlaps_beyond_its_slots(tmp_path: Path) -> None:
    """What the pipeline fixes: there, K slots hold a proposal or an evaluation."""
    executor = CountingExecutor(delay_s=0.05, busy_at=2)
    proposer = TimedProposer(counting_up, lambda call: 0.05, executor)
    controller = make_controller(tmp_path, proposer, executor)
    run(controller, evaluations=20, concurrency=2, proposals=4, schedule="coupled")
    assert proposer.peak <= 2 and proposer.overlaps == 0


def test_fast_evaluators_get_all_m_proposals(tmp_path: Path) -> None:
    """LLM-bound (proposal time 0.1 s, evaluation 0.005 s): the adaptive bound lets
    every one of the M calls run, since the evaluators would idle otherwise."""
    executor = CountingExecutor(delay_s=0.005)
    proposer = TimedProposer(counting_up, lambda call: 0.1, executor)
    controller = make_controller(tmp_path, proposer, executor)
    run(controller, evaluations=40, concurrency=2, proposals=8)
    late = [peak for done, peak in proposer.peak_after.items() if done >= 10]
    assert late and max(late) == 8


def test_busy_evaluators_hold_the_proposals_back(tmp_path: Path) -> None:
    """Evaluation-bound (proposal 0.005 s, evaluation 0.1 s, K = 2, Q = 2): once
    both times are known, proposals stop at the queue bound plus what the
    evaluators take during one proposal (one child), far below M = 8."""
    executor = CountingExecutor(delay_s=0.1)
    proposer = TimedProposer(counting_up, lambda call: 0.005, executor)
    progress_seen: list[tuple[int, int]] = []

    def watch(progress: Progress) -> None:
        progress_seen.append((progress.proposing, progress.queued))

    controller = make_controller(tmp_path, proposer, executor, on_progress=watch)
    run(controller, evaluations=16, concurrency=2, proposals=8, queue_size=2)
    late = [peak for done, peak in proposer.peak_after.items() if done >= 4]
    assert late and max(late) <= 3
    # After the first wave (M proposals, before any time was known) has drained:
    assert max(p + q for p, q in progress_seen[12:]) <= 2 + 1


def test_every_child_records_its_staleness_within_the_default_cap(tmp_path: Path) -> None:
    executor = CountingExecutor(delay_s=0.02)
    proposer = TimedProposer(counting_up, lambda call: random.uniform(0, 0.03), executor)
    controller = make_controller(tmp_path, proposer, executor)
    run(controller, evaluations=30, concurrency=2, proposals=4)
    rows = children(controller)
    assert len(rows) == 30
    staleness = [r["staleness"] for r in rows]
    assert all(s is not None and 0 <= s <= 2 * (2 + 4) for s in staleness)
    assert max(staleness) >= 1  # the look-ahead is real ...
    seed = RunStore.open(controller.store.root).read_table("programs").to_pylist()[0]
    assert seed["staleness"] is None  # ... and the seed has none


def test_a_zero_staleness_cap_runs_one_candidate_at_a_time(tmp_path: Path) -> None:
    executor = CountingExecutor(delay_s=0.01)
    proposer = TimedProposer(counting_up, lambda call: 0.01, executor)
    controller = make_controller(tmp_path, proposer, executor)
    progress = run(controller, evaluations=10, concurrency=2, proposals=4, max_staleness=0)
    assert progress.evaluations_this_run == 10 and progress.stale_dropped == 0
    assert [r["staleness"] for r in children(controller)] == [0] * 10
    assert proposer.peak == 1 and executor.peak == 1


def test_a_child_overtaken_past_the_cap_is_dropped_not_evaluated(tmp_path: Path) -> None:
    """Proposal 0 is slow; the fast ones drawn after it settle meanwhile, so by
    its turn its sample misses more than ``max_staleness`` programs."""
    executor = CountingExecutor(delay_s=0.01)
    proposer = TimedProposer(counting_up, lambda call: 0.5 if call == 0 else 0.0, executor)
    controller = make_controller(tmp_path, proposer, executor)
    progress = run(controller, evaluations=6, concurrency=1, proposals=2, max_staleness=2)
    assert progress.stop_reason == "iterations"
    assert progress.evaluations_this_run == 6  # --iterations still exact
    assert progress.stale_dropped == 1
    dropped = events(controller, EventKind.STALE_DROPPED)
    assert len(dropped) == 1
    payload = dropped[0]["payload"]
    assert payload["program_id"] == "p000001" and payload["staleness"] > 2
    assert payload["max_staleness"] == 2
    assert 1.0 not in executor.evaluated_values()  # proposal 0's child never ran
    assert all(r["staleness"] <= 2 for r in children(controller))
    checkpoint = RunStore.open(controller.store.root).load_checkpoint()
    assert checkpoint is not None and checkpoint["unsettled"] == []
    # Not held against the model: the bandit heard nothing of the dropped child.
    assert all("x = 1\n" not in text for text, _ in proposer.feedback_log)


def test_a_duplicate_of_a_queued_child_is_not_evaluated_twice(tmp_path: Path) -> None:
    executor = CountingExecutor(delay_s=0.2)
    proposer = TimedProposer(
        lambda parent, call: 7.0 if call < 3 else call + 10, lambda c: 0, executor
    )
    controller = make_controller(tmp_path, proposer, executor)
    progress = run(controller, evaluations=4, concurrency=1, proposals=4, queue_size=4)
    assert progress.evaluations_this_run == 4
    assert executor.evaluated_values().count(7.0) == 1
    assert progress.duplicates == 2


def test_k_follows_the_executors_capacity_when_the_run_names_none(tmp_path: Path) -> None:
    executor = CountingExecutor(delay_s=0.05, capacity=3)
    proposer = TimedProposer(counting_up, lambda call: 0.0, executor)
    controller = make_controller(tmp_path, proposer, executor)
    run(controller, evaluations=15, concurrency=None, proposals=4)
    assert executor.peak == 3


@pytest.mark.parametrize("k, m", [(1, 1), (2, 3), (3, 1)])
def test_the_ordered_schedule_gives_one_lineage_at_any_timing(
    tmp_path: Path, k: int, m: int
) -> None:
    lineages = []
    for attempt in range(2):
        timing = random.Random(attempt)
        executor = JitteredExecutor(timing)
        proposer = TimedProposer(
            lambda parent, call: round(parent.fitness or 0) + call % 3 + 1,
            lambda call, timing=timing: timing.uniform(0, 0.02),
            executor,
        )
        controller = make_controller(tmp_path / str(attempt), proposer, executor)
        run(controller, evaluations=20, concurrency=k, proposals=m, ordered=True)
        rows = children(controller)
        lineages.append([(r["id"], tuple(r["parent_ids"]), r["code_hash"]) for r in rows])
        assert all(r["staleness"] is None or r["staleness"] <= k + m - 1 for r in rows)
        assert proposer.peak <= m and executor.peak <= k
    assert lineages[0] == lineages[1]


@given(
    cpus=st.floats(0.25, 8),
    gpus=st.integers(0, 4),
    memory_mb=st.integers(64, 8192),
    cluster_cpus=st.integers(0, 512),
    cluster_gpus=st.integers(0, 16),
    cluster_gb=st.integers(0, 2048),
    slots=st.one_of(st.none(), st.integers(0, 64)),
)
def test_the_cluster_holds_what_its_scarcest_resource_allows(
    cpus: float,
    gpus: int,
    memory_mb: int,
    cluster_cpus: int,
    cluster_gpus: int,
    cluster_gb: int,
    slots: int | None,
) -> None:
    cluster: dict[str, float] = {
        "CPU": cluster_cpus,
        "GPU": cluster_gpus,
        "memory": cluster_gb * 2.0**30,
    }
    if slots is not None:
        cluster["evolve_slots"] = slots
    resources = Resources(cpus=cpus, gpus=gpus, memory_mb=memory_mb)
    fits = jobs_that_fit(cluster, resources, "evolve_slots")
    assert fits >= 1
    if fits > 1:  # that many jobs really fit, on every resource
        assert fits * cpus <= cluster_cpus + 1e-6
        assert fits * memory_mb * 2**20 <= cluster["memory"]
        assert fits * gpus <= cluster_gpus
        assert slots is None or fits <= slots
    # one more would not fit on at least one resource
    more = fits + 1
    assert (
        more * cpus > cluster_cpus + 1e-6
        or more * memory_mb * 2**20 > cluster["memory"]
        or more * gpus > cluster_gpus
        or (slots is not None and more > slots)
    )
