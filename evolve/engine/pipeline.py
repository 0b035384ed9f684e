"""The pipelined schedule: proposals and evaluations each keep their own side busy.

::

    draw -> [ M proposals in flight ] -> ready queue (Q) -> [ K evaluations in flight ] -> settle
              sample, prompt, LLM,        children            sandboxes, on this
              apply, dedup                waiting             machine or on Ray

The coupled schedule (``scheduling.run_steady``) runs propose -> evaluate in
each of K slots, so a slot's evaluator idles while its LLM call is out and no
call is out while it evaluates. Here the two sides are apart:

* **K** evaluations in flight: ``--concurrency``, or the executor's capacity
  (for Ray, what the cluster's nodes offer for the problem's resources, read
  again as nodes join and leave).
* **M** proposals in flight at most (``--proposals``, by default ``[llm]
  max_concurrency``), and adaptively fewer: a proposal starts only while the
  children queued and on their way number fewer than the queue bound ``Q``
  plus what the evaluators will take during one proposal (K x proposal time /
  evaluation time, from running averages). Evaluators that idle get more
  proposals; a full queue stops them.
* **Staleness**: a child's parent and inspirations were sampled before the
  results of the candidates ahead of it came in. Each child records how many
  programs the database gained between its sampling and the start of its
  evaluation (``Program.staleness``). No proposal starts while more than
  ``max_staleness`` candidates are ahead of it, and a child that still exceeds the cap
  when its turn comes (children drawn later overtook it) is not evaluated
  (``stale_dropped`` event): the cap is a bound, not a target.

Unchanged guarantees: an evaluation is reserved when its proposal starts and
given back if it yields none, so ``--iterations`` is exact; dedup is decided as
each proposal finishes, against the database and every child queued or in
flight; a stop cancels the proposals in flight (their iterations stay
unsettled for a resume), and the children already paid for (queued) or being
evaluated finish and settle.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol, cast

from evolve.engine.scheduling import Steps, Stopper, wind_down
from evolve.engine.state import Draw, Outcome, Pending, Progress, Rejection
from evolve.mutation import BudgetExhausted
from sandboxes.job import EvalResult

__all__ = ["PipelineShape", "PipelineSteps", "run_pipeline"]

# Weight of the newest sample in the running averages of proposal and
# evaluation time (about the last ten count).
_SMOOTHING = 0.2


class PipelineSteps(Steps, Protocol):
    """The controller's steps, plus the one the pipeline needs of its own."""

    def drop_stale(self, pending: Pending, cap: int) -> None:
        """Record a child over the staleness cap as not evaluated, and release it."""
        ...

    def commit(self) -> None:
        """Write pending records and the checkpoint (before waiting on a review)."""
        ...

    def report(self) -> None:
        """Show the progress now (the live line, while the run waits)."""
        ...


@dataclass(frozen=True)
class PipelineShape:
    """The pipeline's bounds, resolved from the limits and the executor."""

    evaluations_in_flight: Callable[[], int]  # K; read again as a cluster changes
    max_proposals: int  # M
    queue_size: int | None  # Q; None: K
    max_staleness: int | None  # None: 2 x (K + M)
    # the program a review gate waits for (evolve.engine.gate), None: go on
    awaiting_review: Callable[[], str | None] = lambda: None

    def queue_bound(self) -> int:
        return self.queue_size if self.queue_size is not None else self.evaluations_in_flight()

    def staleness_cap(self) -> int:
        if self.max_staleness is not None:
            return self.max_staleness
        return 2 * (self.evaluations_in_flight() + self.max_proposals)


class _Average:
    """A running average of durations (None until the first sample)."""

    def __init__(self) -> None:
        self.value: float | None = None

    def add(self, seconds: float) -> None:
        self.value = (
            seconds if self.value is None else self.value + _SMOOTHING * (seconds - self.value)
        )


class _Pipeline:
    """The state of one ``run_pipeline`` call: the tasks of both sides and the queue."""

    def __init__(
        self, steps: PipelineSteps, stopper: Stopper, shape: PipelineShape, progress: Progress
    ) -> None:
        self.steps = steps
        self.stopper = stopper
        self.shape = shape
        self.progress = progress
        # task -> when it started (proposals), or the child it evaluates
        self.proposing: dict[asyncio.Future[Any], float] = {}
        self.queue: deque[Pending] = deque()
        self.evaluating: dict[asyncio.Future[Any], tuple[Pending, float]] = {}
        self.proposal_time = _Average()
        self.evaluation_time = _Average()
        # Set by every task as it finishes (a done-callback added once, when it
        # starts): the loop waits on this one event, not on every task in
        # flight, so a wake-up costs what finished, not what runs (asyncio.wait
        # over 1,000 evaluations adds and removes 1,000 callbacks each time).
        self.wake = asyncio.Event()
        self._saved_for_pause = False  # committed since the review gate closed

    def track(self, task: asyncio.Future[Any]) -> asyncio.Future[Any]:
        task.add_done_callback(self.finished)
        return task

    def finished(self, _: asyncio.Future[Any]) -> None:
        self.wake.set()

    # -- deciding ---------------------------------------------------------------

    def ahead(self) -> int:
        return len(self.proposing) + len(self.queue) + len(self.evaluating)

    def wanted_on_the_way(self) -> int:
        """How many children may be queued or being proposed: the queue bound plus
        what the evaluators consume during one proposal (Little's law). Until
        both times are known, as many as ``max_proposals`` allows."""
        proposal, evaluation = self.proposal_time.value, self.evaluation_time.value
        if proposal is None or evaluation is None:
            return self.shape.queue_bound() + self.shape.max_proposals
        k = self.shape.evaluations_in_flight()
        consumed = k * proposal / max(evaluation, 1e-3)
        return self.shape.queue_bound() + min(self.shape.max_proposals, math.ceil(consumed))

    def may_propose(self) -> bool:
        return (
            len(self.proposing) < self.shape.max_proposals
            and len(self.proposing) + len(self.queue) < self.wanted_on_the_way()
            and self.ahead() <= self.shape.staleness_cap()
            and not self.stopper.should_stop()
            and self.shape.awaiting_review() is None
        )

    # -- starting ---------------------------------------------------------------

    def start_evaluations(self) -> None:
        k = self.shape.evaluations_in_flight()
        cap = self.shape.staleness_cap()
        while self.queue and len(self.evaluating) < k:
            pending = self.steps.stamp(self.queue.popleft())
            staleness = pending.child.staleness or 0
            if staleness > cap:
                self.stopper.launched -= 1
                self.steps.drop_stale(pending, cap)
                self.stopper.failed()
                continue
            task = self.track(asyncio.ensure_future(self.steps.evaluate(pending)))
            self.evaluating[task] = (pending, time.monotonic())

    def start_proposals(self) -> None:
        while self.may_propose():
            # Reserve the evaluation before the (awaited) proposal, so proposals
            # in flight cannot overshoot --iterations; given back if it yields none.
            self.stopper.launched += 1
            draw: Draw = self.steps.draw()
            task = self.track(asyncio.ensure_future(self.steps.breed(draw)))
            self.proposing[task] = time.monotonic()

    # -- finishing --------------------------------------------------------------

    def proposal_done(self, task: asyncio.Future[Any]) -> None:
        started = self.proposing.pop(task)
        if task.cancelled():  # a stop: the draw stays unsettled, for a resume
            self.stopper.launched -= 1
            return
        self.proposal_time.add(time.monotonic() - started)
        error = task.exception()
        if isinstance(error, BudgetExhausted):
            self.stopper.launched -= 1
            self.stopper.budget_spent(error)
            return
        if error is not None:
            raise error
        outcome: Outcome = cast(Pending | Rejection, task.result())
        if isinstance(outcome, Pending):
            outcome = self.steps.claim(outcome)
        if isinstance(outcome, Pending):
            self.stopper.produced()
            self.queue.append(outcome)
            return
        self.stopper.launched -= 1
        self.steps.settle_other(outcome, wait_for_original=False)
        self.stopper.failed()

    def evaluation_done(self, task: asyncio.Future[Any]) -> None:
        pending, started = self.evaluating.pop(task)
        self.evaluation_time.add(time.monotonic() - started)
        self.steps.settle(pending, cast(EvalResult, task.result()))

    async def cancel_proposals(self) -> None:
        tasks = list(self.proposing)
        for task in tasks:
            task.cancel()
        await wind_down(tasks)
        for task in tasks:
            if task.done():
                self.proposal_done(task)
            else:  # outlasted the grace: abandoned, its draw stays unsettled
                self.proposing.pop(task, None)
                self.stopper.launched -= 1

    def show(self) -> None:
        self.progress.proposing = len(self.proposing)
        self.progress.queued = len(self.queue)
        self.progress.evaluating = len(self.evaluating)

    async def run(self) -> None:
        stopper = self.stopper
        while True:
            stopper.should_stop()  # notices a target reached by the last settle
            if stopper.requested and self.proposing:
                await self.cancel_proposals()
            self.start_evaluations()
            if not stopper.requested:
                self.start_proposals()
            if stopper.requested and self.proposing:  # starting noticed a stop
                await self.cancel_proposals()
            self.start_evaluations()
            self.show()
            if not self.ahead():
                if stopper.should_stop() or not await self.paused_for_review():
                    return
                continue
            if not self.proposing and not self.evaluating:  # queued only: cannot happen
                raise RuntimeError("pipeline stalled: children queued but no evaluation slot")
            await self.until_something_finished()
            # Results first: a settled evaluation frees its code before the
            # proposals that finished with it are checked for duplicates. Each
            # side in the order it started (dicts keep it), so the earlier of
            # two equal children is the one evaluated.
            for task in [t for t in self.evaluating if t.done()]:
                self.evaluation_done(task)
            for task in [t for t in self.proposing if t.done()]:
                self.proposal_done(task)

    async def paused_for_review(self) -> bool:
        """With nothing in flight: whether a review gate holds the run. Then
        save, show what it waits for, and look again in a second (or at a stop)."""
        waiting = self.shape.awaiting_review()
        self.progress.paused_for = waiting or ""
        if waiting is None:
            return False
        if not self._saved_for_pause:
            self.steps.commit()  # the reviewer reads committed programs
            self._saved_for_pause = True
        self.steps.report()
        await self.until_something_finished(timeout_s=1.0)
        self._saved_for_pause = self.shape.awaiting_review() is not None
        return True

    async def until_something_finished(self, timeout_s: float | None = None) -> None:
        """Until a task in flight finishes or the run is told to stop. A wake-up
        may find nothing finished (a callback of a task already handled): the
        loop then only looks again."""
        stop = self.stopper.stop_waiter()
        if stop is not None:
            stop.add_done_callback(self.finished)
        try:
            if timeout_s is None:
                await self.wake.wait()
            else:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.wake.wait(), timeout_s)
        finally:
            if stop is not None:
                stop.remove_done_callback(self.finished)
                stop.cancel()
        self.wake.clear()

    async def abandon(self) -> None:
        """On an error or a cancellation of the run: cancel both sides."""
        tasks: list[asyncio.Future[Any]] = [*self.proposing, *self.evaluating]
        for task in tasks:
            task.cancel()
        await wind_down(tasks)
        self.proposing.clear()
        self.evaluating.clear()
        self.show()


async def run_pipeline(
    steps: PipelineSteps, stopper: Stopper, shape: PipelineShape, progress: Progress
) -> None:
    """Run proposals and evaluations apart until the work runs out or a stop."""
    pipeline = _Pipeline(steps, stopper, shape, progress)
    try:
        await pipeline.run()
    finally:
        await pipeline.abandon()
