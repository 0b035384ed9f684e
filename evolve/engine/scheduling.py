"""Scheduling: which candidate runs next, how many are in flight, and when to stop.

Three schedules drive the same steps (``Steps``, which the controller provides):

* ``evolve.engine.pipeline.run_pipeline`` (the default): proposals and
  evaluations in two pools with a bounded queue between them.
* ``run_steady`` (``--schedule coupled``, the older design): ``concurrency``
  slots each run draw -> breed -> claim -> evaluate -> settle, and a slot
  starts its next candidate as soon as it finishes.
* ``run_ordered``: K + M candidates in flight, but the database is sampled
  and updated in iteration order, so the same seed gives the same lineage
  whatever the timing (``--deterministic``).

``Stopper`` holds every stop condition and the reason the run records:
``iterations``, ``max_time``, ``target_reached``, ``budget``,
``mutation_stalled`` and ``interrupted``.

A stop (every reason but ``iterations``, which is the work running out) takes
effect at once, not when the next candidate would start: proposals in flight
are cancelled (and with them their LLM calls, which the proposer records as
cancelled), evaluations in flight finish and settle, and the schedule returns.
A cancelled proposal settles nothing: its iteration stays drawn, so the
checkpoint lists it as unsettled and a resume redoes it with the same parent,
inspirations and seed. Counting it as a rejected edit would blame the parent
and the model for the run's own stop (an edit_rejected event, no reward for
the bandit, a step towards ``mutation_stalled``) and lose the iteration for
good. ``max_time`` is a timer on the event loop, so a slot blocked in a call
that never returns still sees it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Collection, Coroutine
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from evolve.engine.state import Draw, Duplicate, Outcome, Pending, Progress, Rejection, RunLimits
from evolve.mutation import BudgetExhausted
from sandboxes.job import EvalResult

__all__ = [
    "CANCEL_GRACE_S",
    "MAX_CONSECUTIVE_FAILED_PROPOSALS",
    "Steps",
    "Stopper",
    "run_ordered",
    "run_steady",
]

log = logging.getLogger(__name__)

T = TypeVar("T")

# A schedule whose proposals fail this many times in a row (unparseable or
# rejected edits, duplicates) stops the run: the mutator is not making progress.
MAX_CONSECUTIVE_FAILED_PROPOSALS = 200

# How long a cancelled proposal may take to wind down (an HTTP request is
# dropped at once; this only bounds a proposer that is slow to honour the
# cancellation). Waiting at all is so its call's record is in the final commit.
CANCEL_GRACE_S = 2.0


class Steps(Protocol):
    """The steps of one candidate, as the controller provides them."""

    def draw(self) -> Draw:
        """The next iteration: its parent, inspirations and seed."""
        ...

    async def breed(self, draw: Draw) -> Pending | Rejection:
        """Propose an edit and apply it (``BudgetExhausted`` propagates)."""
        ...

    def claim(self, pending: Pending) -> Pending | Duplicate | Rejection:
        """Reserve the child's code for evaluation, or name what it duplicates
        (or reject it: too close to a child queued since its novelty check)."""
        ...

    def stamp(self, pending: Pending) -> Pending:
        """``pending`` with its staleness set, as its evaluation starts."""
        ...

    async def evaluate(self, pending: Pending) -> EvalResult: ...

    def settle(self, pending: Pending, result: EvalResult) -> None: ...

    def settle_other(self, outcome: Rejection | Duplicate, wait_for_original: bool) -> None: ...


class Stopper:
    """Every stop condition of a run, and the first reason that held."""

    def __init__(self, progress: Progress, maximize: bool) -> None:
        self.progress = progress
        self.maximize = maximize
        self.requested = False
        self.limits = RunLimits(evaluations=0)
        self.launched = 0  # evaluations started (or reserved) in this run() call
        self._deadline: float | None = None
        self._failures = 0
        # Bound to the event loop of the current run() call (begin() to end()).
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping: asyncio.Event | None = None
        self._timer: asyncio.TimerHandle | None = None

    def begin(self, limits: RunLimits) -> None:
        """A run() call starts (on its event loop): its limits, a fresh deadline
        (a timer, so waiting slots see it) and launch count."""
        self.limits = limits
        self.launched = 0
        self._failures = 0
        self._deadline = None if limits.max_time_s is None else time.monotonic() + limits.max_time_s
        self._loop = asyncio.get_running_loop()
        self._stopping = asyncio.Event()
        if self.requested:
            self._stopping.set()
        if limits.max_time_s is not None:
            self._timer = self._loop.call_later(limits.max_time_s, self.request, "max_time")

    def end(self) -> None:
        """The run() call is over, however it ended: the deadline no longer applies."""
        if self._timer is not None:
            self._timer.cancel()
        self._loop = self._stopping = self._timer = None

    def request(self, reason: str) -> None:
        """Stop now: cancel the proposals in flight, finish the evaluations in
        flight. The first reason given is kept. Safe to call from any thread
        (a notebook); Ctrl-C calls it on the event loop."""
        if not self.requested:
            self.requested = True
            self.progress.stop_reason = reason
        loop, stopping = self._loop, self._stopping
        if loop is None or stopping is None:
            return  # not running: begin() sees ``requested``
        try:
            here = asyncio.get_running_loop()
        except RuntimeError:
            here = None
        if here is loop:
            stopping.set()
        else:
            with contextlib.suppress(RuntimeError):  # that loop has closed: nothing waits
                loop.call_soon_threadsafe(stopping.set)

    async def until_stopped(self, task: asyncio.Future[Any]) -> None:
        """Wait until ``task`` is done or the run is told to stop, whichever is first."""
        stopping = self._stopping
        if stopping is None:
            await asyncio.wait((task,))
            return
        waiter = asyncio.ensure_future(stopping.wait())
        try:
            await asyncio.wait((task, waiter), return_when=asyncio.FIRST_COMPLETED)
        finally:
            waiter.cancel()

    def stop_waiter(self) -> asyncio.Future[Any] | None:
        """A future that completes when the run is told to stop (the caller
        cancels it), or None when it already was or no run is active."""
        if self._stopping is None or self._stopping.is_set():
            return None
        return asyncio.ensure_future(self._stopping.wait())

    async def unless_stopped(self, coroutine: Coroutine[Any, Any, T]) -> T | None:
        """``coroutine``'s result, or None when the run is told to stop first:
        then it is cancelled, with the LLM call it awaits, and given
        ``CANCEL_GRACE_S`` to wind down (so that call's record is kept). Its
        exceptions propagate; so does a cancellation of the caller, after
        cancelling it too."""
        if self._stopping is not None and self._stopping.is_set():
            coroutine.close()  # never started: nothing to cancel or record
            return None
        task = asyncio.ensure_future(coroutine)
        try:
            await self.until_stopped(task)
        finally:
            if not task.done():
                task.cancel()
                await wind_down((task,))
        if not task.done() or task.cancelled():
            return None
        return task.result()

    def should_stop(self) -> bool:
        if self.requested:
            return True
        if self.launched >= self.limits.evaluations:
            return True
        if self._deadline is not None and time.monotonic() >= self._deadline:
            self.request("max_time")
            return True
        target, best = self.limits.target, self.progress.best_score
        reached = (
            target is not None
            and best is not None
            and (best >= target if self.maximize else best <= target)
        )
        if reached:
            self.request("target_reached")
        return reached

    def finished(self) -> None:
        """The schedule ran out of work without another reason: the iterations are done."""
        if not self.progress.stop_reason:
            self.progress.stop_reason = "iterations"

    def produced(self) -> None:
        """A proposal gave a child to evaluate."""
        self._failures = 0

    def failed(self) -> None:
        """A proposal gave nothing new (a rejected edit or a duplicate)."""
        self._failures += 1
        if self._failures >= MAX_CONSECUTIVE_FAILED_PROPOSALS:
            self.request("mutation_stalled")
            log.error(
                "%d proposals in a row gave no new program (rejected edits or duplicates); "
                "stopping. See the events table for the reasons.",
                self._failures,
            )

    def budget_spent(self, exc: BudgetExhausted) -> None:
        self.request("budget")
        log.info("LLM budget reached (%s); finishing the evaluations in flight", exc)


async def run_steady(steps: Steps, stopper: Stopper, k: int) -> None:
    """``k`` slots, each proposing and evaluating as soon as it is free."""
    slots = [asyncio.create_task(_slot(steps, stopper)) for _ in range(k)]
    try:
        await asyncio.gather(*slots)
    finally:
        for task in slots:
            task.cancel()
        await wind_down(slots)


async def _slot(steps: Steps, stopper: Stopper) -> None:
    while not stopper.should_stop():
        # Reserve the evaluation before the (awaited) proposal, so slots proposing
        # at once cannot overshoot --iterations; give it back if the proposal
        # yields nothing to evaluate.
        stopper.launched += 1
        draw = steps.draw()
        try:
            bred = await stopper.unless_stopped(steps.breed(draw))
        except BudgetExhausted as exc:
            stopper.launched -= 1
            stopper.budget_spent(exc)
            return
        if bred is None:  # cancelled by a stop: the draw stays unsettled, for a resume
            stopper.launched -= 1
            return
        outcome: Outcome = bred
        if isinstance(outcome, Pending):
            outcome = steps.claim(outcome)
        if not isinstance(outcome, Pending):
            stopper.launched -= 1
            steps.settle_other(outcome, wait_for_original=False)
            stopper.failed()
            continue
        stopper.produced()
        outcome = steps.stamp(outcome)
        steps.settle(outcome, await steps.evaluate(outcome))


async def run_ordered(
    steps: Steps, stopper: Stopper, k: int, proposals: int = 0, max_staleness: int | None = None
) -> None:
    """Deterministic schedule: a window of W = K + M candidates (``concurrency``
    evaluations and ``proposals`` LLM calls in flight at most; W = K when no M
    is given), but the database is sampled and updated in iteration order
    (draw(i) right after settle(i - W)), so the same seed, K and M give the
    same lineage whatever the timing. A slow evaluation holds back the next
    launch. A child's staleness is at most W - 1 (``max_staleness`` narrows W).

    On a stop, the candidates from the first one not yet decided on (still
    proposing, or waiting for its turn to claim) are cancelled; the decided ones
    before it finish and settle. Settled iterations stay a prefix of those
    drawn, which is what a replay of the run reproduces; a resume redoes the
    cancelled ones first, in order, with their samples and seeds."""
    width = k + proposals
    if max_staleness is not None:
        width = max(1, min(width, max_staleness + 1))
    limit = _Limits(
        proposals=asyncio.Semaphore(proposals or width), evaluations=asyncio.Semaphore(k)
    )
    window: deque[tuple[asyncio.Task[Any], _Turn]] = deque()
    settled = 0
    try:
        while True:
            stopping = stopper.should_stop()  # also notices a target reached by the last settle
            while (
                not stopping
                and len(window) < width
                and settled + len(window) < stopper.limits.evaluations
            ):
                previous = window[-1][1].claimed if window else None
                turn = _Turn()
                # Draw here, not in the task: a task's first step runs later,
                # after whatever the loop settles meanwhile.
                task = asyncio.create_task(
                    _ordered_candidate(steps, stopper, steps.draw(), previous, turn, limit)
                )
                window.append((task, turn))
                stopping = stopper.should_stop()
            if not window:
                return
            if not stopper.requested:
                await stopper.until_stopped(window[0][0])
            if stopper.requested:
                await _cut_undecided(window)
                if not window:
                    return
            task, _ = window.popleft()
            outcome = await task
            if isinstance(outcome, tuple):
                steps.settle(*outcome)
                settled += 1
                stopper.produced()
            else:
                steps.settle_other(outcome, wait_for_original=True)
                stopper.failed()
    finally:
        for task, _ in window:
            task.cancel()
        await wind_down([task for task, _ in window])


@dataclass(frozen=True)
class _Limits:
    """How many of the ordered window's candidates may propose, and evaluate, at once."""

    proposals: asyncio.Semaphore
    evaluations: asyncio.Semaphore


@dataclass
class _Turn:
    """Where a candidate of the ordered schedule is: ``claimed`` is set once the
    next candidate may take its dedup decision (this one took its own, or never
    will); ``decided`` once its outcome is known (only an evaluation remains)."""

    claimed: asyncio.Event = field(default_factory=asyncio.Event)
    decided: bool = False


async def _ordered_candidate(
    steps: Steps,
    stopper: Stopper,
    draw: Draw,
    previous: asyncio.Event | None,
    turn: _Turn,
    limit: _Limits,
) -> tuple[Pending, EvalResult] | Rejection | Duplicate:
    """One candidate of the ordered schedule. Dedup decisions are taken in
    iteration order (after the previous candidate's), so they never depend on
    which evaluation finished first."""
    try:
        try:
            async with limit.proposals:
                if stopper.requested:  # the stop came while it waited for a slot
                    raise asyncio.CancelledError
                outcome: Outcome = await steps.breed(draw)
        except BudgetExhausted as exc:
            # Stop now, not when the schedule reaches this iteration: earlier
            # candidates may be waiting on calls that never return.
            stopper.budget_spent(exc)
            raise
        if previous is not None:
            await previous.wait()
        if isinstance(outcome, Pending):
            outcome = steps.claim(outcome)
        turn.decided = True
    finally:
        turn.claimed.set()
    if not isinstance(outcome, Pending):
        return outcome
    stopper.launched += 1
    async with limit.evaluations:
        outcome = steps.stamp(outcome)
        return outcome, await steps.evaluate(outcome)


async def _cut_undecided(window: deque[tuple[asyncio.Task[Any], _Turn]]) -> None:
    """Cancel, and drop from ``window``, every candidate from the first one not
    decided on. Later iterations may have got replies already (their calls
    began first); dropping them keeps the settled iterations a prefix. A cut
    candidate's error other than the spent budget (a wrong key: ``LLMFatalError``)
    is raised, since the run must report it."""
    keep = 0
    while keep < len(window) and window[keep][1].decided:
        keep += 1
    cut = [window.pop()[0] for _ in range(len(window) - keep)]
    for task in cut:
        task.cancel()
    await wind_down(cut)
    for task in reversed(cut):  # in iteration order
        if task.done() and not task.cancelled():
            error = task.exception()
            if error is not None and not isinstance(error, BudgetExhausted):
                raise error


async def wind_down(tasks: Collection[asyncio.Future[Any]]) -> None:
    """Wait, at most ``CANCEL_GRACE_S``, for cancelled tasks to end, so what
    their cancellation records (a cancelled LLM call) is in before the commit.
    One that outlasts the grace is left to the event loop's shutdown."""
    pending = [task for task in tasks if not task.done()]
    if not pending:
        return
    _, late = await asyncio.wait(pending, timeout=CANCEL_GRACE_S)
    if late:
        log.warning(
            "%d cancelled task(s) did not end within %g s of the stop; not waiting for them",
            len(late),
            CANCEL_GRACE_S,
        )
