"""Scheduling: which candidate runs next, how many are in flight, and when to stop.

Two schedules drive the same steps (``Steps``, which the controller provides):

* ``run_steady``: ``concurrency`` slots each run draw -> breed -> claim ->
  evaluate -> settle, and a slot starts its next candidate as soon as it
  finishes, so evaluations never wait for a batch.
* ``run_ordered``: up to ``concurrency`` candidates in flight, but the
  database is sampled and updated in iteration order, so the same seed gives
  the same lineage whatever the timing (``--deterministic``).

``Stopper`` holds every stop condition and the reason the run records:
``iterations``, ``max_time``, ``target_reached``, ``budget``,
``mutation_stalled`` and ``interrupted``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from typing import Any, Protocol

from evolve.engine.state import Draw, Duplicate, Outcome, Pending, Progress, Rejection, RunLimits
from evolve.mutation import BudgetExhausted
from sandboxes.job import EvalResult

__all__ = ["MAX_CONSECUTIVE_FAILED_PROPOSALS", "Steps", "Stopper", "run_ordered", "run_steady"]

log = logging.getLogger(__name__)

# A schedule whose proposals fail this many times in a row (unparseable or
# rejected edits, duplicates) stops the run: the mutator is not making progress.
MAX_CONSECUTIVE_FAILED_PROPOSALS = 200


class Steps(Protocol):
    """The steps of one candidate, as the controller provides them."""

    def draw(self) -> Draw:
        """The next iteration: its parent, inspirations and seed."""
        ...

    async def breed(self, draw: Draw) -> Pending | Rejection:
        """Propose an edit and apply it (``BudgetExhausted`` propagates)."""
        ...

    def claim(self, pending: Pending) -> Pending | Duplicate:
        """Reserve the child's code for evaluation, or name what it duplicates."""
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

    def begin(self, limits: RunLimits) -> None:
        """A run() call starts: its limits, a fresh deadline and launch count."""
        self.limits = limits
        self.launched = 0
        self._failures = 0
        self._deadline = None if limits.max_time_s is None else time.monotonic() + limits.max_time_s

    def request(self, reason: str) -> None:
        """Stop after the evaluations in flight; the first reason given is kept."""
        if not self.requested:
            self.requested = True
            self.progress.stop_reason = reason

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


async def run_steady(steps: Steps, stopper: Stopper) -> None:
    """``concurrency`` slots, each proposing and evaluating as soon as it is free."""
    slots = [asyncio.create_task(_slot(steps, stopper)) for _ in range(stopper.limits.concurrency)]
    try:
        await asyncio.gather(*slots)
    finally:
        for task in slots:
            task.cancel()


async def _slot(steps: Steps, stopper: Stopper) -> None:
    while not stopper.should_stop():
        # Reserve the evaluation before the (awaited) proposal, so slots proposing
        # at once cannot overshoot --iterations; give it back if the proposal
        # yields nothing to evaluate.
        stopper.launched += 1
        draw = steps.draw()
        try:
            outcome: Outcome = await steps.breed(draw)
        except BudgetExhausted as exc:
            stopper.launched -= 1
            stopper.budget_spent(exc)
            return
        if isinstance(outcome, Pending):
            outcome = steps.claim(outcome)
        if not isinstance(outcome, Pending):
            stopper.launched -= 1
            steps.settle_other(outcome, wait_for_original=False)
            stopper.failed()
            continue
        stopper.produced()
        steps.settle(outcome, await steps.evaluate(outcome))


async def run_ordered(steps: Steps, stopper: Stopper) -> None:
    """Deterministic schedule: up to ``concurrency`` candidates in flight, but the
    database is sampled and updated in iteration order (draw(i) right after
    settle(i - concurrency)), so the same seed gives the same lineage whatever
    the timing. A slow evaluation holds back the next launch."""
    window: deque[tuple[asyncio.Task[Any], asyncio.Event]] = deque()
    settled = 0
    try:
        while True:
            while (
                len(window) < stopper.limits.concurrency
                and settled + len(window) < stopper.limits.evaluations
                and not stopper.should_stop()
            ):
                previous = window[-1][1] if window else None
                claimed = asyncio.Event()
                # Draw here, not in the task: a task's first step runs later,
                # after whatever the loop settles meanwhile.
                task = asyncio.create_task(
                    _ordered_candidate(steps, stopper, steps.draw(), previous, claimed)
                )
                window.append((task, claimed))
            if not window:
                return
            task, _ = window.popleft()
            try:
                outcome = await task
            except BudgetExhausted as exc:
                # Later iterations may have got replies (their calls began before
                # the budget ran out); dropping them keeps the lineage a prefix of
                # iterations, which is what a replay reproduces.
                stopper.budget_spent(exc)
                return
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


async def _ordered_candidate(
    steps: Steps,
    stopper: Stopper,
    draw: Draw,
    previous: asyncio.Event | None,
    claimed: asyncio.Event,
) -> tuple[Pending, EvalResult] | Rejection | Duplicate:
    """One candidate of the ordered schedule. Dedup decisions are taken in
    iteration order (after the previous candidate's), so they never depend on
    which evaluation finished first."""
    try:
        outcome: Outcome = await steps.breed(draw)
        if previous is not None:
            await previous.wait()
        if isinstance(outcome, Pending):
            outcome = steps.claim(outcome)
    finally:
        claimed.set()
    if not isinstance(outcome, Pending):
        return outcome
    stopper.launched += 1
    return outcome, await steps.evaluate(outcome)
