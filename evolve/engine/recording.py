"""Recording: what happens once a candidate's fate is known.

Settling (score the result, add it to the database, write its records and
events), the run's counters, proposer feedback, and committing segments and
the checkpoint on a cadence. Scheduling decides what runs; this decides what
is written, and nothing here awaits: every call runs on the event-loop thread,
so neither the database nor the store needs locks.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from typing import Any

from evolve.config import ObjectiveSpec
from evolve.database import Event, PopulationDatabase
from evolve.engine.scoring import as_duplicate, score_result, scored_program
from evolve.engine.state import Pending, Progress, Rejection
from evolve.mutation import Proposal, Proposer
from evolve.records import EventKind, Program, Status
from evolve.store import DatabaseCommit, RunStore
from sandboxes.job import EvalResult

__all__ = ["NOT_NOVEL", "RunRecorder"]

NOT_NOVEL = "not_novel"  # the kind of a rejection by the novelty check
# (programs in the database before it, parent, evaluated child or None, proposal, why
# it was rejected): each proposal's outcome, for [meta] (MetaPrompting.observe_edit)
EditHook = Callable[[int, Program, Program | None, Proposal | None, str], None]


class RunRecorder:
    """Writes every settled candidate to the database and the store, and commits.

    ``unsettled`` gives the checkpoint's list of iterations sampled but not yet
    settled (the scheduler owns them), so a resume redoes exactly those.
    ``on_new_best`` is called with each recorded program that became the
    database's best (the controller starts its held-out scoring there).
    ``on_added`` gets every program added to the database with what the
    database did (the novelty filter follows the islands by it), and
    ``on_commit`` runs at every commit (it writes the embeddings).
    """

    def __init__(
        self,
        store: RunStore,
        database: PopulationDatabase,
        proposer: Proposer,
        objective: ObjectiveSpec,
        progress: Progress,
        unsettled: Callable[[], list[dict[str, Any]]],
        on_progress: Callable[[Progress], None] | None = None,
        on_new_best: Callable[[Program], None] | None = None,
        on_added: Callable[[Program, list[Event]], None] | None = None,
        on_commit: Callable[[], None] | None = None,
        on_edit: EditHook | None = None,
    ) -> None:
        self.store = store
        self.on_added = on_added
        self.on_commit = on_commit
        self.on_edit = on_edit
        self.database = database
        self.proposer = proposer
        self.objective = objective
        self.progress = progress
        self.on_progress = on_progress
        self.on_new_best = on_new_best
        self._unsettled = unsettled
        self._uncommitted = 0
        self._last_commit = time.monotonic()
        # Until a run sets its cadence (the seed's evaluation), commit every record.
        self._commit_every = 1
        self._commit_interval_s = 0.0

    def set_cadence(self, every: int, interval_s: float) -> None:
        """Commit after ``every`` records or ``interval_s`` seconds, whichever first."""
        self._commit_every, self._commit_interval_s = every, interval_s

    # -- settling -----------------------------------------------------------------

    def evaluated(self, candidate: Program, result: EvalResult) -> Program:
        """Score ``candidate`` from ``result`` and record it everywhere."""
        program = scored_program(candidate, result, self.objective)
        events = self.database.add(program)
        for event in events:
            self.store.append_event(event.KIND, program.iteration, dataclasses.asdict(event))
        if self.on_added is not None:
            self.on_added(program, events)
        self.store.append_program(program)
        probes = None if result.probes is None else result.probes.to_json()
        self.store.append_evaluation(program, result.peak_memory_mb, result.stage_reached, probes)
        progress = self.progress
        progress.evaluations += 1
        progress.evaluations_this_run += program.edit_kind != "seed"
        progress.statuses[str(program.status)] += 1
        best = self.database.best()
        progress.best_score = None if best is None else best.score
        self._written()
        if self.on_progress is not None:
            self.on_progress(progress)
        if best is not None and best.id == program.id and self.on_new_best is not None:
            self.on_new_best(program)
        return program

    def holdout(self, program: Program, result: EvalResult | None, reason: str = "") -> None:
        """The held-out score of ``program`` (a new best), or why there is none
        (``result`` None: the job never ran). An event only: never the program's
        metrics, artifacts or feedback, which prompts are built from."""
        if result is None:
            status, score, metrics = Status.ERROR, None, {}
        else:
            scored = score_result(result, self.objective)
            status, score, metrics = scored.status, scored.score, dict(result.metrics)
            reason = scored.reason
        self.store.append_event(
            EventKind.HOLDOUT,
            program.iteration,
            {
                "program_id": program.id,
                "status": str(status),
                "score": score,
                "metrics": metrics,
                "reason": reason,
            },
        )

    def child(self, pending: Pending, result: EvalResult) -> Program:
        """A child's evaluation came back: record it and tell the proposer how it did."""
        before = len(self.database)
        program = self.evaluated(pending.child, result)
        self.proposer.feedback(pending.proposal, pending.parent_fitness, program.fitness)
        if self.on_edit is not None:
            parent = self.database.get(program.parent_ids[0])
            self.on_edit(before, parent, program, pending.proposal, "")
        return program

    def duplicate(self, child: Program, original: Program) -> None:
        """A known program proposed again: it reuses the original's result."""
        self.store.append_program(as_duplicate(child, original))
        self.progress.duplicates += 1
        self._written()

    def duplicate_in_flight(self, child: Program, original_id: str) -> None:
        """A child whose code was being evaluated (steady schedule: no waiting for it)."""
        self.progress.duplicates += 1
        self.store.append_event(
            EventKind.DUPLICATE_IN_FLIGHT,
            child.iteration,
            {"program_id": child.id, "of": original_id},
        )

    def stale(self, pending: Pending, cap: int) -> None:
        """A child over ``max_staleness`` when its turn came: not evaluated, and
        not held against its parent or model (the schedule, not the edit, made
        it stale); the event keeps its LLM call's id."""
        child = pending.child
        self.progress.stale_dropped += 1
        self.store.append_event(
            EventKind.STALE_DROPPED,
            child.iteration,
            {
                "program_id": child.id,
                "parent_id": child.parent_ids[0] if child.parent_ids else None,
                "staleness": child.staleness,
                "max_staleness": cap,
                "llm_call_id": child.llm_call_id,
            },
        )

    def rejected(self, rejection: Rejection) -> None:
        """A proposal that gave no child: recorded with its reason, never dropped."""
        self.progress.rejected_edits += 1
        self.progress.not_novel += rejection.kind == NOT_NOVEL
        payload: dict[str, Any] = {
            "parent_id": rejection.parent.id,
            "kind": rejection.kind,
            "reason": rejection.reason,
            **rejection.details,
        }
        proposal = rejection.proposal
        if proposal is not None:
            payload.update(model=proposal.model, llm_call_id=proposal.llm_call_id)
        self.store.append_event(EventKind.EDIT_REJECTED, rejection.iteration, payload)
        if proposal is not None:
            self.proposer.feedback(proposal, rejection.parent.fitness, None)
        if self.on_edit is not None:
            self.on_edit(
                len(self.database),
                rejection.parent,
                None,
                proposal,
                f"{rejection.kind}: {rejection.reason}",
            )

    def stopped(self) -> None:
        """The run stops: its counters, as an event."""
        self.store.append_event(
            EventKind.STOP, self.progress.next_iteration, self.progress.to_state()
        )

    # -- committing -----------------------------------------------------------------

    def commit(self) -> None:
        """Write pending records and the checkpoint (atomic).

        The database goes in as its journal since the last commit (the store
        appends it to a delta log and only now and then asks for a full
        snapshot), so a commit costs what changed, not the population's size.
        """
        if self.on_commit is not None:
            self.on_commit()
        for call in self.proposer.drain_calls():
            self.store.append_llm_call(call.to_dict())
            self.progress.llm_calls += 1
            self.progress.llm_tokens += call.prompt_tokens + call.completion_tokens
            self.progress.cost_usd += call.cost_usd
        database = self.database
        self.store.commit(
            {
                "controller": self.progress.to_state(),
                "proposer": self.proposer.snapshot(),
                "unsettled": self._unsettled(),
            },
            database=DatabaseCommit(
                journal=database.take_journal(),
                position=database.position(),
                programs=len(database),
                snapshot=database.snapshot,
            ),
        )
        self._uncommitted = 0
        self._last_commit = time.monotonic()

    def _written(self) -> None:
        self._uncommitted += 1
        due = time.monotonic() - self._last_commit >= self._commit_interval_s
        if self._uncommitted >= self._commit_every or due:
            self.commit()
