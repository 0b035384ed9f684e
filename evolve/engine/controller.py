"""The controller: the one place where database, mutation, executor and store meet.

It provides the steps of one candidate (draw a parent, breed a child, claim
its code, evaluate it) and hands them to a schedule (``pipeline``, the
default; ``scheduling``: coupled or ordered, and every stop condition); what
a settled candidate writes is ``recording``'s. All database and store calls
happen on the event-loop thread, so neither needs locks.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

from evolve.config import Problem
from evolve.database import PopulationDatabase, Sample, normalized_code_hash
from evolve.edits import EditError, apply_proposal
from evolve.engine.gate import ReviewGate
from evolve.engine.pipeline import PipelineShape, run_pipeline
from evolve.engine.recording import NOT_NOVEL, EditHook, RunRecorder
from evolve.engine.repeats import score_with_repeats
from evolve.engine.scheduling import Stopper, run_ordered, run_steady
from evolve.engine.seed_check import suspicious_seed
from evolve.engine.state import (
    Draw,
    Duplicate,
    Pending,
    Progress,
    Rejection,
    RunLimits,
    iteration_seed,
)
from evolve.errors import SeedFailed, UsageError
from evolve.executors import Executor
from evolve.judging import MetricJudge, build_metric_judge
from evolve.mutation import MutationError, Proposer
from evolve.mutation.llm import LLMProposer
from evolve.novelty import NoveltyFilter, Verdict, build_novelty_filter
from evolve.records import Program, Status
from evolve.store import RunStore
from sandboxes.job import EvalResult

__all__ = ["Controller"]

log = logging.getLogger(__name__)


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
        default_proposals: int | None = None,
    ) -> None:
        """``default_proposals``: M when the limits name none (the LLM's
        ``max_concurrency``); without either, M = K."""
        self.problem = problem
        self.store = store
        self.database = database
        self.proposer = proposer
        self.executor = executor
        self.seed = seed
        self.default_proposals = default_proposals
        self.progress = progress or Progress()
        self.stopper = Stopper(self.progress, problem.spec.objective.maximize)
        # [novelty]: children too close to a program are rejected before evaluation
        self.novelty: NoveltyFilter | None = build_novelty_filter(
            problem, proposer, database, store.root
        )
        self._novelty_at_claim = False  # set by run(): True in the deterministic schedule
        self.metric_judge: MetricJudge | None = build_metric_judge(problem, proposer)
        self.recorder = RunRecorder(
            store,
            database,
            proposer,
            problem.spec.objective,
            self.progress,
            self._unsettled,
            on_progress,
            on_new_best=self._start_holdout if problem.holdout else None,
            on_added=self.novelty.added if self.novelty is not None else None,
            on_commit=self.novelty.flush if self.novelty is not None else None,
            on_edit=self._meta_hook(proposer),
        )
        # normalised code hash -> id of the program being evaluated with that code
        self._in_flight: dict[str, str] = {}
        # Iterations drawn but not yet settled (saved in the checkpoint), and
        # those a crash left unsettled, to redo first with the same sample and seed.
        self._drawn: dict[int, Sample] = {}
        self._redo: deque[tuple[int, Sample]] = deque()
        # Held-out scorings of new bests still running: program id -> (program, job).
        self._holdouts: dict[str, tuple[Program, Future[EvalResult]]] = {}
        # [governance] pause_on = "new_best": no proposal while the best awaits a review
        self.gate = (
            ReviewGate(store.root, database)
            if problem.spec.governance.pause_on == "new_best"
            else None
        )

    # -- public ---------------------------------------------------------------

    def request_stop(self, reason: str = "interrupted") -> None:
        """Cancel the proposals in flight (their LLM calls with them), finish the
        evaluations in flight, save, and return (Ctrl-C, SIGTERM). Safe to call
        from another thread."""
        self.stopper.request(reason)

    async def evaluate_seed(self) -> Program:
        """Score the seed program and place it in the database (new runs only)."""
        iteration = self.progress.next_iteration
        self.progress.next_iteration += 1
        seed = Program(
            id=_id_for(iteration),
            code=self.problem.initial_code,
            iteration=iteration,
            created_at=time.time(),
            edit_kind="seed",
        )
        key = self._reserve(seed)
        result = await self._run_job(seed)
        self._in_flight.pop(key, None)
        program = self.recorder.evaluated(seed, result)
        self.commit()
        warning = suspicious_seed(str(program.status), program.metrics, program.artifacts)
        if warning is not None:
            log.warning("%s: %s", self.problem.initial_path, warning)
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
        self.stopper.begin(limits)
        self.recorder.set_cadence(limits.commit_every, limits.commit_interval_s)
        shape = self.shape(limits)
        if self.gate is not None and (limits.ordered or limits.schedule == "coupled"):
            raise UsageError(
                '[governance] pause_on = "new_best" works with the default pipeline schedule; '
                "drop --deterministic / --schedule coupled, or the gate"
            )
        if self.novelty is not None and limits.ordered and not self.novelty.checks_in_order:
            raise UsageError(
                '[novelty] with embedder = "llm" or a judge_band does not work with '
                "--deterministic: their calls finish in any order, and a check must run at "
                'the child\'s turn; drop --deterministic, or use embedder = "hashed" with '
                "judge_band = 0"
            )
        # In iteration order, a child is checked at its turn to claim (synchronously),
        # against the database and queue as they are then: the same for any timing.
        self._novelty_at_claim = limits.ordered
        try:
            # The coupled and ordered schedules take K as a number, read once.
            if limits.ordered:
                k = shape.evaluations_in_flight()
                await run_ordered(self, self.stopper, k, shape.max_proposals, limits.max_staleness)
            elif limits.schedule == "coupled":
                await run_steady(self, self.stopper, shape.evaluations_in_flight())
            else:
                await run_pipeline(self, self.stopper, shape, self.progress)
            await self._finish_holdouts()
        finally:
            self.stopper.end()
            self._collect_holdouts()
            self.commit()
        self.stopper.finished()
        self.recorder.stopped()
        self.commit()
        return self.progress

    def shape(self, limits: RunLimits) -> PipelineShape:
        """K, M, the queue and the staleness cap of a run() call."""
        fixed = limits.concurrency
        k: Callable[[], int] = (lambda: fixed) if fixed is not None else self.executor.capacity
        proposals = limits.proposals or self.default_proposals or k()
        gate = self.gate.awaiting if self.gate is not None else (lambda: None)
        return PipelineShape(k, proposals, limits.queue_size, limits.max_staleness, gate)

    def report(self) -> None:
        """Show the progress now (the pipeline calls it while a review gate holds it)."""
        if self.recorder.on_progress is not None:
            self.recorder.on_progress(self.progress)

    def commit(self) -> None:
        """Write pending records and the checkpoint (atomic)."""
        self.recorder.commit()

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

    # -- the steps of one candidate (evolve.engine.scheduling.Steps) -----------

    def draw(self) -> Draw:
        if self._redo:
            iteration, sample = self._redo.popleft()
        else:
            iteration = self.progress.next_iteration
            self.progress.next_iteration += 1
            sample = self.database.sample()
        self._drawn[iteration] = sample
        return Draw(iteration, sample, iteration_seed(self.seed, iteration), len(self.database))

    async def breed(self, draw: Draw) -> Pending | Rejection:
        """Propose and apply an edit; a rejection is returned, not recorded yet.
        A stop cancels it mid-proposal: then nothing is returned or recorded, and
        the iteration stays drawn (unsettled) for a resume to redo."""
        parent = draw.sample.parent
        try:
            proposal = await self.proposer.propose(
                parent, draw.sample.inspirations, draw.seed, at=draw.population
            )
        except MutationError as exc:  # no reply after retries, or nothing to mutate
            return Rejection(draw.iteration, parent, "no_proposal", str(exc), None)
        try:
            code = apply_proposal(parent.code, proposal)
        except EditError as exc:
            return Rejection(draw.iteration, parent, exc.kind, exc.reason, proposal)
        child = Program(
            id=_id_for(draw.iteration),
            code=code,
            parent_ids=(parent.id, *proposal.extra_parent_ids),
            island=draw.sample.island,
            generation=parent.generation + 1,
            iteration=draw.iteration,
            created_at=time.time(),
            edit_kind=proposal.edit_kind,
            model=proposal.model,
            llm_call_id=proposal.llm_call_id,
        )
        verdict = None
        novelty = None if self._novelty_at_claim else self.novelty
        if novelty is not None and self._known_code(child.code) is None:
            verdict = await novelty.check(child, draw.seed)
            if not verdict.novel:
                reason = _not_novel(verdict, novelty.config.threshold)
                details = verdict.details()
                return Rejection(draw.iteration, parent, NOT_NOVEL, reason, proposal, details)
        return Pending(child, proposal, parent.fitness, draw.population, verdict)

    def claim(self, pending: Pending) -> Pending | Duplicate | Rejection:
        """Reserve the child's code for evaluation, or name the program it duplicates
        (already evaluated, or in flight), or reject it as too close to a child
        queued since its novelty check."""
        child = pending.child
        original = self._known_code(child.code)
        if original is not None:
            return Duplicate(child, original)
        verdict = pending.novelty
        if self.novelty is not None and self._novelty_at_claim:
            verdict = self.novelty.check_now(child)
            if not verdict.novel:
                parent = self.database.get(child.parent_ids[0])
                reason = _not_novel(verdict, self.novelty.config.threshold)
                return Rejection(
                    child.iteration, parent, NOT_NOVEL, reason, pending.proposal, verdict.details()
                )
            self.novelty.hold(child, verdict)
        elif self.novelty is not None and verdict is not None and verdict.vector is not None:
            # A child let through unchecked (max_rejections) is not rechecked either.
            close = None if verdict.unchecked else self.novelty.recheck(verdict.vector)
            if close is not None:
                late = Verdict(False, verdict.vector, close)
                parent = self.database.get(child.parent_ids[0])
                reason = _not_novel(late, self.novelty.config.threshold)
                return Rejection(
                    child.iteration, parent, NOT_NOVEL, reason, pending.proposal, late.details()
                )
            self.novelty.hold(child, verdict)
        self._reserve(child)
        return pending

    def _known_code(self, code: str) -> str | None:
        """The program with this code (normalised), evaluated or in flight, if any."""
        original = self.database.find_duplicate(code)
        if original is None:
            original = self._in_flight.get(normalized_code_hash(code))
        return original

    def stamp(self, pending: Pending) -> Pending:
        """The child's staleness, as its evaluation starts: programs the database
        gained since its parent and inspirations were sampled."""
        staleness = len(self.database) - pending.sampled_at
        child = dataclasses.replace(pending.child, staleness=staleness)
        return dataclasses.replace(pending, child=child)

    async def evaluate(self, pending: Pending) -> EvalResult:
        return await self._run_job(pending.child)

    def drop_stale(self, pending: Pending, cap: int) -> None:
        """A child over the staleness cap: not evaluated, its iteration settled."""
        child = pending.child
        self._drawn.pop(child.iteration, None)
        self._in_flight.pop(normalized_code_hash(child.code), None)
        if self.novelty is not None:
            self.novelty.release(child.id)
        self.recorder.stale(pending, cap)

    def settle(self, pending: Pending, result: EvalResult) -> None:
        child = pending.child
        self._drawn.pop(child.iteration, None)
        self._in_flight.pop(normalized_code_hash(child.code), None)
        self.recorder.child(pending, result)

    def settle_other(self, outcome: Rejection | Duplicate, wait_for_original: bool) -> None:
        """Record a proposal that gave no evaluation. A duplicate of a program in
        flight is recorded as such once that program has its result (ordered
        schedule: it has, since settling follows iteration order); the steady
        schedule records an event instead of waiting."""
        if isinstance(outcome, Rejection):
            self._drawn.pop(outcome.iteration, None)
            self.recorder.rejected(outcome)
            return
        child, original = outcome.child, outcome.original_id
        self._drawn.pop(child.iteration, None)
        if original in self.database:
            self.recorder.duplicate(child, self.database.get(original))
        elif wait_for_original:
            raise RuntimeError(f"{child.id} duplicates {original}, which was never recorded")
        else:
            self.recorder.duplicate_in_flight(child, original)

    # -- internals ------------------------------------------------------------

    def _reserve(self, program: Program) -> str:
        """Mark ``program``'s code as being evaluated; returns its key."""
        key = normalized_code_hash(program.code)  # cached by the database: no re-tokenizing
        self._in_flight[key] = program.id
        return key

    async def _run_job(self, program: Program) -> EvalResult:
        """Score ``program``: once, or as ``[evaluation] repeats`` / ``confirm_best``
        ask for a noisy scorer (``evolve.engine.repeats``)."""
        job = self.problem.make_job(program.id, program.code)

        async def once() -> EvalResult:
            return await asyncio.wrap_future(self.executor.submit(job))

        spec = self.problem.spec
        if spec.evaluation.repeats == 1 and not spec.evaluation.confirm_best:
            result = await once()
        else:
            result, extra = await score_with_repeats(
                once, spec.evaluation, spec.objective, lambda: self._island_best(program.island)
            )
            self.progress.extra_scorer_runs += extra
        if self.metric_judge is not None:
            # [judge]: an LLM's ratings join the scorer's metrics (never its objective
            # unless the problem names judged_score as the objective metric)
            result = await self.metric_judge.judge(program, result, seed=program.iteration)
        return result

    @staticmethod
    def _meta_hook(proposer: Proposer) -> EditHook | None:
        """[meta]'s writers learn from every proposal's outcome."""
        meta = proposer.meta if isinstance(proposer, LLMProposer) else None
        return None if meta is None else meta.observe_edit

    def _island_best(self, island: int) -> float | None:
        """The best fitness on ``island`` now: what a child must beat to become
        its island's best, the program migration copies (and, when it beats
        every island's, the run's best)."""
        summaries = self.database.islands_summary()
        return summaries[island].best_fitness if island < len(summaries) else None

    def _start_holdout(self, program: Program) -> None:
        """``program`` just became the best: score it on the held-out data, as a
        job of its own (same limits, same executor) that nothing waits for. Its
        result becomes a ``holdout`` event only (``RunRecorder.holdout``), never
        part of the program, so no prompt can show it."""
        job = self.problem.make_job(program.id, program.code, entry="holdout")
        try:
            future = self.executor.submit(job)
        except Exception as exc:  # an executor that cannot take it: recorded, the run goes on
            self.recorder.holdout(program, None, f"the held-out job did not start: {exc}")
            return
        self._holdouts[program.id] = (program, future)
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # recorded outside a run's loop: collected at the next settle
            return

        def done(_: Future[EvalResult]) -> None:  # on an executor thread
            with contextlib.suppress(RuntimeError):  # that loop is gone: collected later
                loop.call_soon_threadsafe(self._collect_holdouts)

        future.add_done_callback(done)

    def _collect_holdouts(self) -> None:
        """Record the held-out scorings that finished (on the event-loop thread)."""
        for program_id, (program, future) in list(self._holdouts.items()):
            if not future.done():
                continue
            del self._holdouts[program_id]
            if future.cancelled():
                self.recorder.holdout(program, None, "the held-out job was cancelled")
                continue
            error = future.exception()
            if error is not None:
                reason = f"the held-out job failed: {type(error).__name__}: {error}"
                self.recorder.holdout(program, None, reason)
            else:
                self.recorder.holdout(program, future.result())

    async def _finish_holdouts(self) -> None:
        """Wait for the held-out scorings still running (each ends at its own
        deadline) and record them: a run returns with every one it started."""
        pending = [asyncio.wrap_future(future) for _, future in self._holdouts.values()]
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)
        self._collect_holdouts()

    def _unsettled(self) -> list[dict[str, Any]]:
        """The checkpoint's record of iterations drawn but not settled."""
        return [
            {
                "iteration": i,
                "island": sample.island,
                "parent": sample.parent.id,
                "inspirations": [p.id for p in sample.inspirations],
            }
            for i, sample in sorted({**dict(self._redo), **self._drawn}.items())
        ]


def _not_novel(verdict: Verdict, threshold: float) -> str:
    """The reason of a rejection by the novelty check."""
    nearest = verdict.nearest
    assert nearest is not None  # a child is rejected only beside a program
    close = f"cosine similarity {nearest.similarity:.4f} to {nearest.program_id}"
    if verdict.judge == "not novel":
        return f"not novel: the novelty judge found it restates {nearest.program_id} ({close})"
    return f"not novel: {close} (threshold {threshold:g})"


def _id_for(iteration: int) -> str:
    return f"p{iteration:06d}"
