"""Prompts that evolve: the system-prompt archive and the scratchpad, kept up
to date by LLM calls and read by every proposal (``[meta]``).

When the database reaches ``k * prompt_every`` programs, variant ``v<k>`` is
written (one call); at ``k * scratchpad_every``, scratchpad version ``k`` (one
call). Each starts in the background the moment it is due, with the inputs of
that moment; each waits for the one before it, so versions land in order. A
proposal drawn at ``at`` first waits for every version due at or before
``at``, then reads the archive and the notes as of ``at``: in the
deterministic schedule every run (and a replay) builds the same prompt.

A call that gives nothing keeps the previous version. A budget stop or a
fatal model error raised by a writer reaches the proposal that waits for it,
which stops the run as its own call would.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections import deque
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from evolve.config import MetaConfig
from evolve.mutation.meta.archive import PromptArchive
from evolve.mutation.meta.outcomes import EditOutcome, edit_outcome
from evolve.mutation.meta.requests import (
    SCRATCHPAD_CALL,
    WRITER_CALL,
    VariantRecord,
    read_reply,
    scratchpad_messages,
    writer_messages,
)
from evolve.mutation.protocol import Proposal
from evolve.records import Program

__all__ = ["NOTES_HEADING", "MetaAsk", "MetaPrompting"]

NOTES_HEADING = "## Notes from earlier attempts (kept by the search)"
# (messages, seed, purpose) -> the reply text, or None when none came
MetaAsk = Callable[[Sequence[Mapping[str, Any]], int, str], Awaitable[str | None]]
_SEED_BASE = {WRITER_CALL: 0x5EED_0000, SCRATCHPAD_CALL: 0x5EED_8000}


class MetaPrompting:
    """The system message of each proposal, and the calls that evolve it."""

    def __init__(self, config: MetaConfig, base_system: str, objective: str, ask: MetaAsk) -> None:
        self.config = config
        self.base_system = base_system
        self.objective = objective
        self._ask = ask
        self.archive: PromptArchive | None = None
        if config.evolves_prompts:
            self.archive = PromptArchive(
                base_system, config.prompt_variants, config.prompt_exploration
            )
        self.recent: deque[EditOutcome] = deque(maxlen=4 * config.scratchpad_edits)
        self.notes: dict[int, tuple[int, str]] = {}  # version -> (from at, text)
        self.next_notes = 1
        self.next_variant = 1
        self._tasks: dict[tuple[str, int], asyncio.Future[None]] = {}

    # -- what a proposal reads ---------------------------------------------------------

    async def system_for(self, rng: random.Random, at: int) -> tuple[str, str | None]:
        """(the system message, the variant's id or None) for a proposal drawn at ``at``."""
        for key, task in sorted(self._tasks.items()):
            if self._due_at(*key) <= at:
                await asyncio.shield(task)
                self._tasks.pop(key, None)  # written: no later draw waits for it again
        variant = None if self.archive is None else self.archive.choose(rng, at)
        text = self.base_system if variant is None else variant.text
        notes = self.notes_as_of(at)
        if notes:
            text = f"{text}\n\n{NOTES_HEADING}\n{notes}"
        return text, None if variant is None else variant.id

    def notes_as_of(self, at: int) -> str:
        """The latest scratchpad written for a database of at most ``at`` programs."""
        best = max((v for v, (since, _) in self.notes.items() if since <= at), default=None)
        return "" if best is None else self.notes[best][1]

    # -- what the run reports -----------------------------------------------------------

    def observe_edit(
        self,
        at: int,
        parent: Program,
        child: Program | None,
        proposal: Proposal | None,
        reason: str,
    ) -> None:
        """The run's report of one proposal (``RunRecorder``): its evaluated
        ``child`` or (None) its rejection for ``reason``; ``at``: programs in the
        database before it."""
        outcome = edit_outcome(at, parent, child, proposal, reason, self.config.diff_chars)
        self.observe(outcome, at + (child is not None))

    def observe(self, outcome: EditOutcome, size: int) -> None:
        """An edit's outcome; ``size``: programs in the database after it. Starts
        the writer calls that became due."""
        if self.archive is not None:
            self.archive.report(outcome.variant, outcome.at, outcome.gain)
        self.recent.append(outcome)
        config = self.config
        if config.keeps_scratchpad:
            while size >= self.next_notes * config.scratchpad_every:
                self._start(SCRATCHPAD_CALL, self.next_notes, self._notes_inputs())
                self.next_notes += 1
        if self.archive is not None:
            while size >= self.next_variant * config.prompt_every:
                self._start(WRITER_CALL, self.next_variant, self._worked())
                self.next_variant += 1

    def _due_at(self, kind: str, version: int) -> int:
        every = (
            self.config.scratchpad_every if kind == SCRATCHPAD_CALL else self.config.prompt_every
        )
        return version * every

    def _start(self, kind: str, version: int, outcomes: list[EditOutcome]) -> None:
        before = self._tasks.get((kind, version - 1))
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return  # not in a run (a branch being placed): nothing to ask
        work = self._write_notes if kind == SCRATCHPAD_CALL else self._write_variant
        self._tasks[(kind, version)] = loop.create_task(work(version, outcomes, before))

    def _notes_inputs(self) -> list[EditOutcome]:
        """The most recent edits, half of them improvements where there are enough."""
        limit = self.config.scratchpad_edits
        good = [o for o in self.recent if o.improved][-(limit // 2) :] if limit > 1 else []
        rest = [o for o in self.recent if not o.improved][-(limit - len(good)) :]
        chosen = {id(o) for o in good + rest}
        return [o for o in self.recent if id(o) in chosen]

    def _worked(self) -> list[EditOutcome]:
        return [o for o in self.recent if o.improved][-self.config.scratchpad_edits :]

    async def _write_notes(
        self, version: int, outcomes: list[EditOutcome], before: asyncio.Future[None] | None
    ) -> None:
        if before is not None:
            await before
        due = self._due_at(SCRATCHPAD_CALL, version)
        messages = scratchpad_messages(self.objective, self.notes_as_of(due), outcomes)
        reply = await self._ask(messages, _SEED_BASE[SCRATCHPAD_CALL] + version, SCRATCHPAD_CALL)
        text = read_reply(reply, self.config.scratchpad_max_chars)
        if text is not None:
            self.notes[version] = (due, text)

    async def _write_variant(
        self, version: int, outcomes: list[EditOutcome], before: asyncio.Future[None] | None
    ) -> None:
        if before is not None:
            await before
        archive = self.archive
        assert archive is not None
        due = self._due_at(WRITER_CALL, version)
        records = [VariantRecord(v.id, v.text, n, gain) for v, n, gain in archive.records(due)]
        messages = writer_messages(self.objective, records, outcomes)
        reply = await self._ask(messages, _SEED_BASE[WRITER_CALL] + version, WRITER_CALL)
        text = read_reply(reply, self.config.prompt_max_chars)
        if text is not None and _usable_variant(text, [v.text for v, _, _ in archive.records(due)]):
            archive.add(f"v{version}", text, due)

    # -- checkpoint and shutdown ---------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        """The versions written so far; a version still being written is redone
        after a resume (its number is the next one). Versions land in order
        (each waits for the one before), so none after a pending one exists yet."""
        return {
            "notes": {str(k): list(v) for k, v in self.notes.items()},
            "next_notes": self._first_pending(SCRATCHPAD_CALL, self.next_notes),
            "next_variant": self._first_pending(WRITER_CALL, self.next_variant),
            "variants": None if self.archive is None else self.archive.snapshot(),
            "recent": [o.to_json() for o in self.recent],
        }

    def _first_pending(self, kind: str, next_version: int) -> int:
        pending = [v for (k, v), task in self._tasks.items() if k == kind and not task.done()]
        return min(pending, default=next_version)

    def restore(self, state: Mapping[str, Any]) -> None:
        self.notes = {int(k): (int(v[0]), str(v[1])) for k, v in state["notes"].items()}
        self.next_notes = int(state["next_notes"])
        self.next_variant = int(state["next_variant"])
        if self.archive is not None and state.get("variants"):
            self.archive.restore(state["variants"])
        self.recent.clear()
        self.recent.extend(EditOutcome.from_json(o) for o in state.get("recent", []))

    async def aclose(self) -> None:
        """Stop writing: a call in flight is cancelled (its record is kept by the client)."""
        tasks = [t for t in self._tasks.values() if not t.done()]
        for task in tasks:
            task.cancel()
        for task in self._tasks.values():
            with contextlib.suppress(BaseException):
                await task
        self._tasks.clear()


MIN_VARIANT_CHARS = 40  # shorter than this, a "system prompt" is a refusal or a fragment


def _usable_variant(text: str, live: list[str]) -> bool:
    """A written variant worth a slot: long enough to instruct, and not a live
    variant again (an echo would split that variant's record in two)."""
    return len(text) >= MIN_VARIANT_CHARS and text.strip() not in {t.strip() for t in live}
