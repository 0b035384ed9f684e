"""A scripted proposer and an in-memory executor, for testing the controller alone.

The program is one line inside its EVOLVE-BLOCK, ``x = N``, and the executor
scores it as N, so a test says exactly which children come and what they score.
"""

from __future__ import annotations

import asyncio
import re
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from evolve.config import load_problem
from evolve.database import PopulationDatabase
from evolve.engine import Controller, Progress
from evolve.mutation import Proposal
from evolve.records import Program
from evolve.store import RunStore
from sandboxes.job import EvalJob, EvalResult, Status
from tests.problem_factory import write_problem

SEED = "# EVOLVE-BLOCK-START\nx = 0\n# EVOLVE-BLOCK-END\n"


def value_of(code: str) -> float:
    match = re.search(r"^x = (\S+)$", code, re.M)
    assert match is not None, code
    return float(match.group(1))


class Hang:
    """A script step that never answers: ``propose`` awaits forever, as on an LLM
    endpoint that accepts the request and then says nothing."""


HANG = Hang()

# What a script step gives: the new value of x, an exception to raise, or HANG.
Step = float | BaseException | Hang


@dataclass
class ScriptedProposer:
    """Proposes ``x = <value>`` rewrites; ``script(parent, call)`` says which value
    (or which exception to raise) for each call, in call order."""

    script: Callable[[Program, int], Step]
    name: str = "scripted"
    calls: int = 0
    cancelled: int = 0  # proposals cancelled while they waited (a HANG step)
    feedback_log: list[tuple[str, float | None]] = field(default_factory=list)

    async def propose(
        self, parent: Program, inspirations: Sequence[Program], seed: int, *, at: int = 0
    ) -> Proposal:
        await asyncio.sleep(0)  # a real proposer awaits; let other slots interleave
        step = self.script(parent, self.calls)
        self.calls += 1
        if isinstance(step, BaseException):
            raise step
        if isinstance(step, Hang):
            try:
                await asyncio.Event().wait()  # nothing ever sets it
            except asyncio.CancelledError:
                self.cancelled += 1
                raise
        return Proposal(text=f"```python\nx = {step:g}\n```", model=self.name, edit_kind="rewrite")

    def feedback(
        self, proposal: Proposal, parent_fitness: float | None, child_fitness: float | None
    ) -> None:
        self.feedback_log.append((proposal.text, child_fitness))

    def drain_calls(self) -> list[Any]:
        return []

    def snapshot(self) -> dict[str, Any]:
        return {}

    def restore(self, state: dict[str, Any]) -> None:
        return None

    async def aclose(self) -> None:
        return None


class ScoringExecutor:
    """Scores ``x = N`` as N on a thread after ``delay_s``; remembers every job."""

    def __init__(self, delay_s: float = 0.0, max_workers: int = 4) -> None:
        self.delay_s = delay_s
        self.max_workers = max_workers
        self.jobs: list[EvalJob] = []
        self._lock = threading.Lock()

    def submit(self, job: EvalJob) -> Future[EvalResult]:
        with self._lock:
            self.jobs.append(job)
        future: Future[EvalResult] = Future()

        def finish() -> None:
            if self.delay_s:
                time.sleep(self.delay_s)
            future.set_result(EvalResult(Status.OK, metrics={"score": value_of(job.code)}))

        threading.Thread(target=finish, daemon=True).start()
        return future

    def evaluated_values(self) -> list[float]:
        with self._lock:
            return [value_of(job.code) for job in self.jobs]

    def shutdown(self) -> None:
        return None


def make_controller(
    tmp_path: Path,
    proposer: ScriptedProposer,
    executor: ScoringExecutor,
    on_progress: Callable[[Progress], None] | None = None,
    direction: str = "maximize",
) -> Controller:
    toml = f'name = "fake"\n[objective]\nmetric = "score"\ndirection = "{direction}"\n'
    root = write_problem(tmp_path / "problem", toml=toml, seed=SEED)
    store = RunStore.create(tmp_path / "run", {"problem": "fake"}, root)
    problem = load_problem(store.problem_dir)
    database = PopulationDatabase(problem.spec.database, seed=0, program_lookup=store.get_program)
    return Controller(problem, store, database, proposer, executor, seed=0, on_progress=on_progress)
