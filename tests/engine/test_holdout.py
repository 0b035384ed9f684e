"""Held-out scoring in a run: a problem whose scorer defines ``evaluate_holdout``
gets it run once for each program that became the run's best, as a job of its
own, recorded only as a ``holdout`` event. Its metrics and values never reach a
program's record or any prompt; a crashing held-out scorer is an error event
and the run goes on; ``evolve show``, ``evolve.Run`` and the report show it."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import math
import textwrap
import threading
from collections.abc import Sequence
from concurrent.futures import Future
from pathlib import Path

import pytest

from evolve.analysis.report import build_report
from evolve.analysis.run import Run
from evolve.analysis.summary import format_summary, run_summary
from evolve.cli.main import main
from evolve.config import LLMConfig, ModelSpec, load_problem
from evolve.database import PopulationDatabase
from evolve.engine import Controller, RunLimits
from evolve.engine.runner import RunOptions, start_run
from evolve.executors import LocalExecutor
from evolve.mutation.llm import LLMProposer
from evolve.mutation.prompts import BuiltPrompt, PromptBuilder
from evolve.mutation.prompts.builder import format_number
from evolve.records import EventKind, Program
from evolve.store import RunStore
from evolve.testing import serve_in_thread
from sandboxes.job import HOLDOUT_STAGES, EvalJob, EvalResult, Status
from sandboxes.process import ProcessSandbox
from tests.engine.fakes import ScoringExecutor, ScriptedProposer, make_controller, value_of
from tests.problem_factory import SEED, write_problem

SECRET = "zq_heldout_secret"  # a metric name no prompt may ever contain
OFFSET = 777.125  # the held-out score is OFFSET + the training score

SCORER = textwrap.dedent(
    f"""\
    import importlib.util

    def _value(program_path):
        spec = importlib.util.spec_from_file_location("candidate", program_path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module.value()

    def evaluate(program_path):
        return {{"score": -abs(_value(program_path) - 10.0)}}

    def evaluate_holdout(program_path):
        value = _value(program_path)
        return {{"score": {OFFSET} - abs(value - 10.0), "{SECRET}": 31337.5 + value}}
    """
)

CRASHING = textwrap.dedent(
    """\
    import importlib.util

    def evaluate(program_path):
        spec = importlib.util.spec_from_file_location("candidate", program_path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return {"score": -abs(module.value() - 10.0)}

    def evaluate_holdout(program_path):
        raise RuntimeError("held-out data unreadable: boom-23")
    """
)


def holdout_events(store_root: Path) -> list[dict]:
    return [e for e in RunStore.open(store_root).load_events() if e["kind"] == EventKind.HOLDOUT]


def new_bests(store_root: Path) -> list[str]:
    """Ids of the programs that became the best when recorded (ties: the earlier)."""
    rows = RunStore.open(store_root).read_table("programs").to_pylist()
    best: float | None = None
    ids = []
    for row in rows:
        fitness = row["fitness"] if row["duplicate_of"] is None else None
        if fitness is not None and (best is None or fitness > best):
            best = fitness
            ids.append(row["id"])
    return ids


# -- the controller alone (scripted children, an in-memory executor) ---------------


class HoldoutAwareExecutor(ScoringExecutor):
    """Scores ``x = N`` as N; a holdout job as 1000 + N, with a secret metric."""

    def submit(self, job: EvalJob) -> Future[EvalResult]:
        if job.entry != "holdout":
            return super().submit(job)
        with self._lock:
            self.jobs.append(job)
        future: Future[EvalResult] = Future()
        value = value_of(job.code)

        def finish() -> None:
            metrics = {"score": 1000.0 + value, SECRET: value}
            future.set_result(EvalResult(Status.OK, metrics=metrics))

        threading.Thread(target=finish, daemon=True).start()
        return future


def holdout_controller(tmp_path: Path, script: list[float], executor: ScoringExecutor):
    controller = make_controller(
        tmp_path, ScriptedProposer(lambda parent, call: script[call % len(script)]), executor
    )
    # the fake problem's scorer, plus a held-out scorer (the loader reads it)
    scorer = Path(controller.problem.root) / "scorer.py"
    scorer.write_text(scorer.read_text() + "\ndef evaluate_holdout(program_path):\n    pass\n")
    problem = load_problem(controller.problem.root)
    assert problem.holdout
    store, database = controller.store, controller.database
    return Controller(problem, store, database, controller.proposer, executor, seed=0)


@pytest.mark.parametrize("schedule", [{}, {"schedule": "coupled"}, {"ordered": True}])
def test_exactly_the_new_bests_are_held_out_scored(tmp_path: Path, schedule: dict) -> None:
    executor = HoldoutAwareExecutor()
    # 0 is the seed; the bests are then 1, 5, 7 (3, 2 and 4 are never the best)
    controller = holdout_controller(tmp_path, [1, 5, 3, 7, 2, 4], executor)

    async def drive() -> None:
        await controller.evaluate_seed()
        await controller.run(RunLimits(evaluations=6, concurrency=1, **schedule))

    asyncio.run(drive())
    holdout_jobs = [j for j in executor.jobs if j.entry == "holdout"]
    assert all(j.stages == HOLDOUT_STAGES for j in holdout_jobs)
    assert sorted(value_of(j.code) for j in holdout_jobs) == [0, 1, 5, 7]
    events = holdout_events(controller.store.root)
    bests = new_bests(controller.store.root)
    assert len(bests) == 4
    assert sorted(e["payload"]["program_id"] for e in events) == sorted(bests)
    rows = {
        r["id"]: r for r in RunStore.open(controller.store.root).read_table("programs").to_pylist()
    }
    for event in events:
        payload = event["payload"]
        row = rows[payload["program_id"]]
        assert payload["status"] == "ok" and payload["reason"] == ""
        assert payload["score"] == 1000.0 + row["score"]
        assert payload["metrics"][SECRET] == row["score"]
        assert event["iteration"] == row["iteration"]
        assert SECRET not in row["metrics"] and SECRET not in row["artifacts"]


def test_a_held_out_job_that_fails_in_the_executor_is_an_error_event(tmp_path: Path) -> None:
    class Failing(ScoringExecutor):
        def submit(self, job: EvalJob) -> Future[EvalResult]:
            if job.entry != "holdout":
                return super().submit(job)
            future: Future[EvalResult] = Future()
            future.set_exception(ConnectionError("worker lost"))
            return future

    controller = holdout_controller(tmp_path, [1, 2], Failing())

    async def drive() -> None:
        await controller.evaluate_seed()
        await controller.run(RunLimits(evaluations=2, concurrency=1))

    asyncio.run(drive())
    events = holdout_events(controller.store.root)
    assert len(events) == 3  # the seed, 1 and 2 each became the best
    for event in events:
        assert event["payload"]["status"] == "error" and event["payload"]["score"] is None
        assert "ConnectionError: worker lost" in event["payload"]["reason"]


def test_a_problem_without_a_held_out_scorer_runs_none(tmp_path: Path) -> None:
    executor = HoldoutAwareExecutor()
    controller = make_controller(tmp_path, ScriptedProposer(lambda p, c: float(c + 1)), executor)
    assert not controller.problem.holdout

    async def drive() -> None:
        await controller.evaluate_seed()
        await controller.run(RunLimits(evaluations=4, concurrency=2))

    asyncio.run(drive())
    assert [j.entry for j in executor.jobs] == ["evaluate"] * 5
    assert holdout_events(controller.store.root) == []


# -- a real run: process sandbox, the LLM proposer against the offline server ------


class RecordingPrompts(PromptBuilder):
    """The LLM proposer's prompt builder, keeping every prompt it built."""

    def __init__(self, system: str) -> None:
        super().__init__(system)
        self.built: list[BuiltPrompt] = []
        self.inputs: list[Program] = []

    def build(
        self,
        parent: Program,
        inspirations: Sequence[Program],
        edit_kind: str = "diff",
        system: str | None = None,
    ) -> BuiltPrompt:
        built = super().build(parent, inspirations, edit_kind, system)
        self.built.append(built)
        self.inputs += [parent, *inspirations]
        return built


@pytest.fixture(scope="module")
def llm_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, RecordingPrompts]:
    """A 30-iteration run whose held-out scorer has a distinctive metric name."""
    root = tmp_path_factory.mktemp("holdout")
    problem_dir = write_problem(root / "problem", seed=SEED, scorer=SCORER)
    store = RunStore.create(root / "run", {"problem": "tiny"}, problem_dir)
    problem = load_problem(store.problem_dir)
    assert problem.holdout
    database = PopulationDatabase(problem.spec.database, seed=3, program_lookup=store.get_program)
    prompts = RecordingPrompts(problem.spec.prompt.system)
    executor = LocalExecutor(ProcessSandbox(), max_workers=2)
    with serve_in_thread(seed=5, vary=True) as server:
        config = LLMConfig(
            models=(ModelSpec(name="evolve-offline", base_url=server.base_url, api_key_env=""),),
            max_concurrency=2,
        )
        proposer = LLMProposer.create(config, prompts)
        controller = Controller(problem, store, database, proposer, executor, seed=3)

        async def drive() -> None:
            try:
                await controller.evaluate_seed()
                await controller.run(RunLimits(evaluations=30, concurrency=2))
            finally:
                await proposer.aclose()

        try:
            asyncio.run(drive())
        finally:
            executor.shutdown()
    return root / "run", prompts


def test_a_real_run_held_out_scores_each_new_best_once(
    llm_run: tuple[Path, RecordingPrompts],
) -> None:
    run_dir, _ = llm_run
    events = holdout_events(run_dir)
    bests = new_bests(run_dir)
    assert len(bests) >= 2, "the run found no better program than its seed: no test"
    assert [e["payload"]["program_id"] for e in events] != []
    assert sorted(e["payload"]["program_id"] for e in events) == sorted(bests)
    rows = {r["id"]: r for r in RunStore.open(run_dir).read_table("programs").to_pylist()}
    for event in events:
        payload = event["payload"]
        assert payload["status"] == "ok", payload
        assert payload["score"] == OFFSET + rows[payload["program_id"]]["score"]
        assert SECRET in payload["metrics"]
    checkpoint = RunStore.open(run_dir).load_checkpoint(database=False) or {}
    assert checkpoint["controller"]["stop_reason"] == "iterations"
    assert checkpoint["controller"]["evaluations"] == 31  # held-out jobs are no evaluations


def test_no_held_out_name_or_value_reaches_a_prompt(
    llm_run: tuple[Path, RecordingPrompts],
) -> None:
    run_dir, prompts = llm_run
    events = holdout_events(run_dir)
    assert len(prompts.built) >= 25  # the prompts of every child
    assert any(e["iteration"] < 25 for e in events[1:])  # children came after a new best
    texts = [m["content"] for built in prompts.built for m in built.messages]
    values = {v for e in events for v in (e["payload"]["score"], *e["payload"]["metrics"].values())}
    shown = {format_number(v) for v in values} | {repr(v) for v in values}

    def leaks(text: str) -> list[str]:
        found = [v for v in shown if v in text]
        return found + [SECRET] * (SECRET in text) + ["holdout"] * ("holdout" in text.lower())

    for text in texts:
        assert not leaks(text), leaks(text)
    # the check would see a leak: a best's prompt with its held-out metrics in it
    best = RunStore.open(run_dir).get_program(events[-1]["payload"]["program_id"])
    leaked = dataclasses.replace(best, metrics={**best.metrics, **events[-1]["payload"]["metrics"]})
    assert leaks(prompts.render(leaked, [], "diff", None, 0))
    # and nothing the proposer was given carries them
    for program in prompts.inputs:
        assert SECRET not in program.metrics and SECRET not in json.dumps(program.artifacts)
        assert not any(
            math.isclose(v, OFFSET + (program.score or 0)) for v in program.metrics.values()
        )
    rows = RunStore.open(run_dir).read_table("programs").to_pylist()
    assert not [r["id"] for r in rows if SECRET in r["metrics"] or SECRET in r["artifacts"]]


def test_show_run_and_report_show_the_best_held_out_score(
    llm_run: tuple[Path, RecordingPrompts], capsys: pytest.CaptureFixture[str]
) -> None:
    run_dir, _ = llm_run
    run = Run.open(run_dir)
    best = run.best(1)
    best_id, best_score = str(best.index[0]), float(best["score"].iloc[0])
    held_out = OFFSET + best_score
    count = len(holdout_events(run_dir))
    # evolve.Run: a holdout_score column, NaN where none was run
    column = run.programs["holdout_score"]
    assert column[best_id] == held_out
    assert int(column.notna().sum()) == count
    assert set(column[column.notna()].index) == set(new_bests(run_dir))
    others = column[~column.index.isin(new_bests(run_dir))]
    assert len(others) > 0 and others.isna().all()
    assert list(run.holdouts["program_id"]) == [
        e["payload"]["program_id"] for e in holdout_events(run_dir)
    ]
    # evolve show
    summary = run_summary(run_dir)
    assert summary["holdout"]["scored"] == count
    assert summary["holdout"]["best"]["score"] == held_out
    text = format_summary(summary)
    assert (
        f"best score {best_score:.6g}  held-out {held_out:.6g} ({count} bests held-out scored)"
        in text
    )
    assert main(["show", str(run_dir)]) == 0
    assert f"held-out {held_out:.6g}" in capsys.readouterr().out
    # the report's summary line
    page = build_report(run)
    assert (
        f"best {best_score:.6g} ({best_id}), held-out score {held_out:.6g} ({count} bests" in page
    )


# -- a crashing held-out scorer, through start_run ------------------------------------


def test_a_crashing_held_out_scorer_gives_error_events_and_the_run_completes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    problem = write_problem(tmp_path / "problem", scorer=CRASHING)
    outcome = start_run(
        problem, tmp_path / "run", RunOptions(seed=1), RunLimits(evaluations=12, concurrency=2)
    )
    assert outcome.progress.stop_reason == "iterations"
    assert outcome.progress.evaluations_this_run == 12
    events = holdout_events(tmp_path / "run")
    assert events  # the seed, at least, was a new best
    assert sorted(e["payload"]["program_id"] for e in events) == sorted(new_bests(tmp_path / "run"))
    for event in events:
        payload = event["payload"]
        assert payload["status"] == "error" and payload["score"] is None
        assert "scorer.py:evaluate_holdout() raised RuntimeError" in payload["reason"]
    rows = RunStore.open(tmp_path / "run").read_table("programs").to_pylist()
    assert all("holdout" not in (r["reason"] or "") + (r["artifacts"] or "") for r in rows)
    assert sum(r["status"] == "ok" for r in rows) >= len(events)  # the programs are untouched
    text = format_summary(run_summary(tmp_path / "run"))
    assert "held-out error (scorer.py:evaluate_holdout() raised RuntimeError" in text
    assert f"{len(events)} failed" in text
    assert math.isnan(Run.open(tmp_path / "run").programs["holdout_score"].iloc[0])
