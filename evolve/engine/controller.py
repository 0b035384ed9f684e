"""The controller: the one place where database, mutation, executor and store meet.

Steady state, not generations: ``concurrency`` slots each run
sample -> propose -> apply -> evaluate -> record, and a slot starts its next
candidate as soon as it finishes, so evaluations never wait for a batch.
All database and store calls happen on the event-loop thread, so neither needs
locks.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from evolve.config import Problem
from evolve.database import PopulationDatabase, Sample, normalized_code_hash
from evolve.edits import EditError, apply_proposal
from evolve.engine.scoring import score_result
from evolve.engine.state import (
    Duplicate,
    Pending,
    Progress,
    Rejection,
    RunLimits,
    iteration_seed,
)
from evolve.errors import SeedFailed
from evolve.executors import Executor
from evolve.mutation import BudgetExhausted, MutationError, Proposal, Proposer
from evolve.records import Program, Status
from evolve.store import RunStore
from sandboxes.job import EvalResult

__all__ = ["Controller"]

log = logging.getLogger(__name__)

# A slot that fails this many proposals in a row (unparseable or rejected
# edits, duplicates) stops the run: the mutator is not making progress.
MAX_CONSECUTIVE_FAILED_PROPOSALS = 200


class Controller:
    """Drives one run (or one resumed stretch of it) to a stop condition."""

    def __init__(
        self,
        problem: Problem,
        store: RunStore,
        database: PopulationDatabase,
        proposer: Proposer,
        executor: Executor,
        seed: int,
        progress: Progress | None = None,
        on_progress: Callable[[Progress], None] | None = None,
    ) -> None:
        self.problem = problem
        self.store = store
        self.database = database
        self.proposer = proposer
        self.executor = executor
        self.seed = seed
        self.progress = progress or Progress()
        self.on_progress = on_progress
        self._stop_requested = False
        # normalised code hash -> id of the program being evaluated with that code
        self._in_flight: dict[str, str] = {}
        self._uncommitted = 0
        self._last_commit = time.monotonic()
        self._launched = 0
        # Iterations sampled but not yet settled (saved in the checkpoint), and
        # those a crash left unsettled, to redo first with the same sample and seed.
        self._drawn: dict[int, Sample] = {}
        self._redo: deque[tuple[int, Sample]] = deque()
        # Before run() sets real limits (seed evaluation), commit every record.
        self._limits = RunLimits(evaluations=0, commit_every=1, commit_interval_s=0.0)

    # -- public ---------------------------------------------------------------

    def request_stop(self, reason: str = "interrupted") -> None:
        """Finish the evaluations in flight, save, and return (Ctrl-C)."""
        if not self._stop_requested:
            self._stop_requested = True
            self.progress.stop_reason = reason

    async def evaluate_seed(self) -> Program:
        """Score the seed program and place it in the database (new runs only)."""
        seed = Program(
            id=self._new_id(),
            code=self.problem.initial_code,
            iteration=0,
            created_at=time.time(),
            edit_kind="seed",
        )
        self._in_flight[normalized_code_hash(seed.code)] = seed.id
        result = await self._evaluate(seed)
        program = self._record(seed, result)
        self.commit()
        if program.status == Status.ERROR:
            raise SeedFailed(
                f"the seed {self.problem.initial_path} failed to score: {program.reason}\n"
                f"{program.artifacts.get('traceback', '')}\n"
                f"Fix the scorer and check it with `evolve eval {self.problem.root}`."
            )
        return program

    async def run(self, limits: RunLimits) -> Progress:
        """Evolve until a limit is hit; commit everything before returning."""
        self.progress.started_at = time.monotonic()
        self.progress.evaluations_this_run = 0
        self._launched = 0
        self._limits = limits
        deadline = None if limits.max_time_s is None else time.monotonic() + limits.max_time_s
        try:
            if limits.ordered:
                await self._run_ordered(deadline)
            else:
                slots = [
                    asyncio.create_task(self._slot(deadline)) for _ in range(limits.concurrency)
                ]
                try:
                    await asyncio.gather(*slots)
                finally:
                    for task in slots:
                        task.cancel()
        finally:
            self.commit()
        if not self.progress.stop_reason:
            self.progress.stop_reason = "iterations"
        self.store.append_event("stop", self.progress.next_iteration, self.progress.to_state())
        self.commit()
        return self.progress

    def commit(self) -> None:
        """Write pending records and the checkpoint (atomic)."""
        for call in self.proposer.drain_calls():
            self.store.append_llm_call(call.to_dict())
            self.progress.llm_calls += 1
            self.progress.llm_tokens += call.prompt_tokens + call.completion_tokens
            self.progress.cost_usd += call.cost_usd
        self.store.commit(
            {
                "database": self.database.snapshot(),
                "controller": self.progress.to_state(),
                "proposer": self.proposer.snapshot(),
                "unsettled": [
                    {
                        "iteration": i,
                        "island": sample.island,
                        "parent": sample.parent.id,
                        "inspirations": [p.id for p in sample.inspirations],
                    }
                    for i, sample in sorted({**dict(self._redo), **self._drawn}.items())
                ],
            }
        )
        self._uncommitted = 0
        self._last_commit = time.monotonic()

    # -- the slot loop --------------------------------------------------------

    def _should_stop(self, deadline: float | None) -> bool:
        if self._stop_requested:
            return True
        if self._launched >= self._limits.evaluations:
            return True
        if deadline is not None and time.monotonic() >= deadline:
            self.request_stop("max_time")
            return True
        target = self._limits.target
        best = self.progress.best_score
        if target is not None and best is not None:
            maximize = self.problem.spec.objective.maximize
            if (best >= target) if maximize else (best <= target):
                self.request_stop("target_reached")
                return True
        return False

    async def _slot(self, deadline: float | None) -> None:
        """Steady state: propose, evaluate, record; repeat as soon as done."""
        failures = 0
        while not self._should_stop(deadline):
            # Reserve the evaluation before the (awaited) proposal, so slots
            # proposing at once cannot overshoot --iterations; give it back if
            # the proposal yields nothing to evaluate.
            self._launched += 1
            iteration, sample, seed = self._next_sample()
            try:
                pending = await self._make_child(iteration, sample, seed)
            except BudgetExhausted as exc:
                self._launched -= 1
                self._budget_stop(exc)
                return
            if isinstance(pending, Pending):
                pending = self._claim(pending)
            if not isinstance(pending, Pending):
                self._launched -= 1
                self._settle_other(pending, wait_for_original=False)
                failures += 1
                self._check_stall(failures)
                continue
            failures = 0
            result = await self._evaluate(pending.child)
            self._settle_child(pending, result)

    async def _run_ordered(self, deadline: float | None) -> None:
        """Deterministic schedule: up to ``concurrency`` candidates in flight, but
        the database is sampled and updated in iteration order (sample(i) right
        after add(i - concurrency)), so the same seed gives the same lineage
        whatever the timing. A slow evaluation holds back the next launch."""
        window: deque[tuple[asyncio.Task[Any], asyncio.Event]] = deque()
        settled_evaluations = 0
        failures = 0
        try:
            while True:
                while (
                    len(window) < self._limits.concurrency
                    and settled_evaluations + len(window) < self._limits.evaluations
                    and not self._should_stop(deadline)
                ):
                    previous = window[-1][1] if window else None
                    claimed = asyncio.Event()
                    # Sample here, not in the task: a task's first step runs
                    # later, after whatever the loop settles meanwhile.
                    drawn = self._next_sample()
                    task = asyncio.create_task(self._ordered_candidate(drawn, previous, claimed))
                    window.append((task, claimed))
                if not window:
                    return
                task, _ = window.popleft()
                try:
                    outcome = await task
                except BudgetExhausted as exc:
                    # Later iterations may have got replies (their calls began
                    # before the budget ran out); dropping them keeps the lineage
                    # a prefix of iterations, which is what a replay reproduces.
                    self._budget_stop(exc)
                    return
                if isinstance(outcome, tuple):
                    self._settle_child(*outcome)
                    settled_evaluations += 1
                    failures = 0
                else:
                    self._settle_other(outcome, wait_for_original=True)
                    failures += 1
                    self._check_stall(failures)
        finally:
            for task, _ in window:
                task.cancel()

    async def _ordered_candidate(
        self,
        drawn: tuple[int, Sample, int],
        previous: asyncio.Event | None,
        claimed: asyncio.Event,
    ) -> tuple[Pending, EvalResult] | Rejection | Duplicate:
        """One candidate of the ordered schedule. Dedup decisions are taken in
        iteration order (after the previous candidate's), so they never depend
        on which evaluation finished first."""
        try:
            pending = await self._make_child(*drawn)
            if previous is not None:
                await previous.wait()
            if isinstance(pending, Pending):
                pending = self._claim(pending)
        finally:
            claimed.set()
        if not isinstance(pending, Pending):
            return pending
        self._launched += 1
        return pending, await self._evaluate(pending.child)

    def restore_unsettled(self, entries: list[dict[str, Any]]) -> None:
        """Iterations that were sampled but never settled before a crash: they are
        redone first, with the same parent, inspirations and seed, so a resumed
        deterministic run is the run that would have been."""
        for entry in sorted(entries, key=lambda e: e["iteration"]):
            sample = Sample(
                island=int(entry["island"]),
                parent=self.store.get_program(entry["parent"]),
                inspirations=tuple(self.store.get_program(i) for i in entry["inspirations"]),
            )
            self._redo.append((int(entry["iteration"]), sample))

    def _next_sample(self) -> tuple[int, Sample, int]:
        if self._redo:
            iteration, sample = self._redo.popleft()
        else:
            iteration = self.progress.next_iteration
            self.progress.next_iteration += 1
            sample = self.database.sample()
        self._drawn[iteration] = sample
        return iteration, sample, iteration_seed(self.seed, iteration)

    async def _make_child(self, iteration: int, sample: Sample, seed: int) -> Pending | Rejection:
        """Propose and apply an edit; a rejection is returned, not recorded yet."""
        parent = sample.parent
        try:
            proposal = await self.proposer.propose(parent, sample.inspirations, seed)
        except MutationError as exc:  # no reply after retries, or nothing to mutate
            return Rejection(iteration, parent, "no_proposal", str(exc), None)
        try:
            code = apply_proposal(parent.code, proposal)
        except EditError as exc:
            return Rejection(iteration, parent, exc.kind, exc.reason, proposal)
        child = Program(
            id=self._id_for(iteration),
            code=code,
            parent_ids=(parent.id, *proposal.extra_parent_ids),
            island=sample.island,
            generation=parent.generation + 1,
            iteration=iteration,
            created_at=time.time(),
            edit_kind=proposal.edit_kind,
            model=proposal.model,
            llm_call_id=proposal.llm_call_id,
        )
        return Pending(child, proposal, parent.fitness)

    def _claim(self, pending: Pending) -> Pending | Duplicate:
        """Reserve the child's code for evaluation, or name the program it duplicates
        (already evaluated, or in flight)."""
        child = pending.child
        original = self.database.find_duplicate(child.code)
        key = normalized_code_hash(child.code)  # cached by the database: no re-tokenizing
        if original is None:
            original = self._in_flight.get(key)
        if original is not None:
            return Duplicate(child, original)
        self._in_flight[key] = child.id
        return pending

    def _settle_child(self, pending: Pending, result: EvalResult) -> None:
        self._drawn.pop(pending.child.iteration, None)
        program = self._record(pending.child, result)
        self.proposer.feedback(pending.proposal, pending.parent_fitness, program.fitness)

    def _settle_other(self, outcome: Rejection | Duplicate, wait_for_original: bool) -> None:
        """Record a proposal that gave no evaluation. A duplicate of a program in
        flight is recorded as such once that program has its result (ordered
        schedule: it has, since settling follows iteration order); the steady
        schedule records an event instead of waiting."""
        if isinstance(outcome, Rejection):
            self._drawn.pop(outcome.iteration, None)
            self._settle_rejection(outcome)
            return
        child, original = outcome.child, outcome.original_id
        self._drawn.pop(child.iteration, None)
        if original in self.database:
            self._record_duplicate(child, self.database.get(original))
        elif wait_for_original:
            raise RuntimeError(f"{child.id} duplicates {original}, which was never recorded")
        else:
            self.progress.duplicates += 1
            self.store.append_event(
                "duplicate_in_flight", child.iteration, {"program_id": child.id, "of": original}
            )

    def _settle_rejection(self, rejection: Rejection) -> None:
        self._reject(
            rejection.iteration,
            rejection.parent,
            rejection.kind,
            rejection.reason,
            rejection.proposal,
        )
        if rejection.proposal is not None:
            self.proposer.feedback(rejection.proposal, rejection.parent.fitness, None)

    def _budget_stop(self, exc: BudgetExhausted) -> None:
        self.request_stop("budget")
        log.info("LLM budget reached (%s); finishing the evaluations in flight", exc)

    def _check_stall(self, failures: int) -> None:
        if failures >= MAX_CONSECUTIVE_FAILED_PROPOSALS:
            self.request_stop("mutation_stalled")
            log.error(
                "%d proposals in a row gave no new program (rejected edits or duplicates); "
                "stopping. See the events table for the reasons.",
                failures,
            )

    def _reject(
        self,
        iteration: int,
        parent: Program,
        kind: str,
        reason: str,
        proposal: Proposal | None = None,
    ) -> None:
        """A proposal that gave no child: recorded with its reason, never dropped."""
        self.progress.rejected_edits += 1
        payload = {"parent_id": parent.id, "kind": kind, "reason": reason}
        if proposal is not None:
            payload.update(model=proposal.model, llm_call_id=proposal.llm_call_id)
        self.store.append_event("edit_rejected", iteration, payload)

    async def _evaluate(self, program: Program) -> EvalResult:
        job = self.problem.make_job(program.id, program.code)
        return await asyncio.wrap_future(self.executor.submit(job))

    # -- recording ------------------------------------------------------------

    def _record(self, program: Program, result: EvalResult) -> Program:
        self._in_flight.pop(normalized_code_hash(program.code), None)
        scored = score_result(result, self.problem.spec.objective)
        program.status = scored.status
        program.score = scored.score
        program.fitness = scored.fitness
        program.reason = scored.reason
        program.metrics = dict(result.metrics)
        program.artifacts = dict(result.artifacts)
        program.wall_time_s = result.wall_time_s
        for event in self.database.add(program):
            self.store.append_event(type(event).__name__.lower(), program.iteration, _fields(event))
        self.store.append_program(program)
        self.store.append_evaluation(program, result.peak_memory_mb, result.stage_reached)
        progress = self.progress
        progress.evaluations += 1
        progress.evaluations_this_run += program.edit_kind != "seed"
        progress.statuses[str(program.status)] += 1
        best = self.database.best()
        progress.best_score = None if best is None else best.score
        self._uncommitted += 1
        self._maybe_commit()
        if self.on_progress is not None:
            self.on_progress(progress)
        return program

    def _record_duplicate(self, child: Program, original: Program) -> None:
        """A known program proposed again: reuse its result, do not evaluate."""
        child.duplicate_of = original.id
        child.status = original.status
        child.metrics = dict(original.metrics)
        child.score = original.score
        child.fitness = original.fitness
        child.reason = original.reason
        self.store.append_program(child)
        self.progress.duplicates += 1
        self._uncommitted += 1
        self._maybe_commit()

    def _maybe_commit(self) -> None:
        due = time.monotonic() - self._last_commit >= self._limits.commit_interval_s
        if self._uncommitted >= self._limits.commit_every or due:
            self.commit()

    def _new_id(self) -> str:
        iteration = self.progress.next_iteration
        self.progress.next_iteration += 1
        return self._id_for(iteration)

    @staticmethod
    def _id_for(iteration: int) -> str:
        return f"p{iteration:06d}"


def _fields(event: Any) -> dict[str, Any]:
    return dataclasses.asdict(event)
