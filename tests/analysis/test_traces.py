"""`evolve export RUN --traces FILE`: a real LLM run against the local
OpenAI-compatible server, exported as chat records whose messages are the ones
the server received, whose completions are the ones it sent, and whose
rewards are child minus parent fitness; old and offline runs are refused."""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from evolve.analysis.traces import STATUSES, TRACE_SCHEMA, export_traces
from evolve.cli.main import main
from evolve.config import load_problem
from evolve.engine import RunLimits
from evolve.engine.runner import RunOptions, start_run
from evolve.errors import UsageError
from evolve.mutation.llm import RECORD_FILE
from evolve.mutation.llm.client import CHECK_MESSAGE
from evolve.mutation.setup import resolve_llm_config, settings_for
from evolve.store import RunStore
from evolve.testing import FaultPlan, serve_in_thread
from tests.problem_factory import write_problem

pytestmark = pytest.mark.timeout(180)

FIXTURES = Path(__file__).resolve().parents[1] / "store" / "fixtures"


@dataclasses.dataclass(frozen=True)
class LLMRun:
    run_dir: Path
    system: str
    received: list[list[dict[str, Any]]]  # every chat request's messages, as the server saw them


@pytest.fixture(scope="module")
def llm_run(tmp_path_factory: pytest.TempPathFactory) -> LLMRun:
    """An LLM run of 10 children: the start-up check, then a call that fails
    (503, no retries), a reply that does not apply (prose, no edit), and edits."""
    tmp = tmp_path_factory.mktemp("traces")
    problem = write_problem(tmp / "problem")
    faults = FaultPlan(script=("ok", "503", "garbage"))
    with serve_in_thread(faults=faults, keep_messages=True) as server:
        config = resolve_llm_config(
            load_problem(problem), server.model, base_url=server.base_url, api_key_env=""
        )
        assert config is not None
        config = dataclasses.replace(config, max_retries=0)
        options = RunOptions(sandbox="process", mutation=settings_for(config, True, None))
        start_run(problem, tmp / "run", options, RunLimits(evaluations=10, concurrency=1))
        received = server.received
    return LLMRun(tmp / "run", load_problem(problem).spec.prompt.system, received)


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_jsonl_traces_hold_the_messages_the_server_received_and_its_completions(
    llm_run: LLMRun, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "traces.jsonl"
    assert main(["export", str(llm_run.run_dir), "--traces", str(out)]) == 0
    records = read_jsonl(out)
    assert f"wrote {len(records)} traces to {out}" in capsys.readouterr().out

    # One record per proposal the server answered (its start-up check is none),
    # holding exactly the messages it received.
    proposals = [m for m in llm_run.received if m != [CHECK_MESSAGE]]
    assert len(proposals) == len(llm_run.received) - 1 == len(records) >= 10
    sent = sorted(json.dumps(r["messages"][:-1], sort_keys=True) for r in records)
    assert sent == sorted(json.dumps(m, sort_keys=True) for m in proposals)

    store = RunStore.open(llm_run.run_dir)
    calls = {c["id"]: c for c in store.read_table("llm_calls").to_pylist()}
    # What the server answered, as --record kept it (a failed call as ""), by request.
    replies = [
        json.loads(line) for line in (llm_run.run_dir / RECORD_FILE).read_text().splitlines()
    ]
    answered = sorted((r["prompt_hash"], r["text"]) for r in replies)
    exported = []
    for record in records:
        system, user, assistant = record["messages"]
        meta = record["metadata"]
        assert system == {"role": "system", "content": llm_run.system}
        assert user["role"] == "user"
        assert store.get_program(meta["parent_id"]).code.strip() in user["content"]
        assert assistant["role"] == "assistant"
        call = calls[meta["llm_call_id"]]
        exported.append((call["prompt_hash"], assistant["content"]))
        assert meta["status"] in STATUSES
        assert (meta["model"], meta["edit_kind"]) == (call["model"], call["edit_kind"])
        assert (meta["prompt_tokens"], meta["completion_tokens"], meta["cost_usd"]) == (
            call["prompt_tokens"],
            call["completion_tokens"],
            call["cost_usd"],
        )
    assert sorted(exported) == answered
    # The failed call has no reply: its record says so, with its parent.
    failed = [r for r in records if r["metadata"]["status"] == "failed_call"]
    assert len(failed) == 1 and failed[0]["messages"][-1]["content"] == ""
    assert failed[0]["metadata"]["parent_id"] is not None


def test_rewards_are_child_fitness_minus_parent_fitness(llm_run: LLMRun, tmp_path: Path) -> None:
    export_traces(llm_run.run_dir, tmp_path / "traces.jsonl")
    records = read_jsonl(tmp_path / "traces.jsonl")
    programs = {
        r["id"]: r for r in RunStore.open(llm_run.run_dir).read_table("programs").to_pylist()
    }
    children = {r["llm_call_id"]: r for r in programs.values() if r["llm_call_id"] is not None}
    statuses = set()
    for record in records:
        meta = record["metadata"]
        statuses.add(meta["status"])
        parent = programs[meta["parent_id"]]
        assert meta["parent_score"] == parent["score"]
        child = children.get(meta["llm_call_id"])
        if child is None or child["duplicate_of"] is not None:
            assert meta["child_id"] is None and meta["child_score"] is None
            assert meta["reward"] is None
            continue
        assert meta["child_id"] == child["id"] and child["parent_ids"][0] == parent["id"]
        assert meta["status"] == child["status"] and meta["child_score"] == child["score"]
        if child["fitness"] is None:
            assert meta["reward"] is None
        else:
            assert meta["reward"] == pytest.approx(child["fitness"] - parent["fitness"])
    # every child of the run is some record's child
    assert {r["metadata"]["child_id"] for r in records} >= {
        c["id"] for c in children.values() if c["duplicate_of"] is None
    }
    assert {"ok", "rejected", "failed_call"} <= statuses
    assert any(r["metadata"]["reward"] is not None for r in records)


def test_parquet_traces_hold_the_same_records(llm_run: LLMRun, tmp_path: Path) -> None:
    export_traces(llm_run.run_dir, tmp_path / "traces.jsonl")
    done = export_traces(llm_run.run_dir, tmp_path / "traces.parquet")
    table = pq.read_table(tmp_path / "traces.parquet")
    assert table.schema.equals(TRACE_SCHEMA)
    assert done.records == table.num_rows > 0 and done.skipped == 0
    assert table.to_pylist() == read_jsonl(tmp_path / "traces.jsonl")


def test_a_traces_file_of_another_kind_is_refused(llm_run: LLMRun, tmp_path: Path) -> None:
    with pytest.raises(UsageError, match=r"traces\.csv: name a \.jsonl file"):
        export_traces(llm_run.run_dir, tmp_path / "traces.csv")
    assert not (tmp_path / "traces.csv").exists()


def test_a_run_that_predates_stored_prompts_is_refused_with_its_schema(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run_dir = tmp_path / "old"
    shutil.copytree(FIXTURES / "schema_v1", run_dir)
    out = tmp_path / "traces.jsonl"
    assert main(["export", str(run_dir), "--traces", str(out)]) == 2
    error = capsys.readouterr().err
    assert f"{run_dir}: the run predates stored prompts (run-store schema 1 < 6)" in error
    assert not out.exists()


def test_an_offline_run_is_refused_naming_the_run(tmp_path: Path) -> None:
    problem = write_problem(tmp_path / "problem")
    run_dir = tmp_path / "run"
    start_run(problem, run_dir, RunOptions(sandbox="process"), RunLimits(evaluations=2))
    with pytest.raises(UsageError) as error:
        export_traces(run_dir, tmp_path / "traces.jsonl")
    assert str(error.value).startswith(f"{run_dir}: was run with the offline mutator")
    assert "no LLM calls" in str(error.value)
    assert not (tmp_path / "traces.jsonl").exists()


def call_row(call_id: str, edit_kind: str = "diff", **texts: str | None) -> dict[str, Any]:
    """An llm_calls row as a run writes it."""
    return {
        "id": call_id,
        "model": "m",
        "prompt_tokens": 10,
        "completion_tokens": 5,
        "cost_usd": 0.0,
        "latency_s": 0.1,
        "retries": 0,
        "error": None,
        "prompt_hash": "h" + call_id,
        "edit_kind": edit_kind,
        "created_at": float(len(call_id)),
        **texts,
    }


def a_run_with_calls(root: Path, *calls: dict[str, Any]) -> Path:
    problem = write_problem(root.parent / "problem")
    store = RunStore.create(root, {"mutation": {"model": "llm"}}, problem)
    for call in calls:
        store.append_llm_call(call)
    store.commit({"controller": {}, "proposer": {}, "unsettled": []})
    store.close()
    return root


def test_calls_made_before_texts_were_stored_are_left_out_and_counted(tmp_path: Path) -> None:
    # A run of an older evolve, resumed by this one: its first call has no texts.
    messages = json.dumps([{"role": "user", "content": "improve"}])
    run_dir = a_run_with_calls(
        tmp_path / "run",
        call_row("c1"),
        call_row("c22", messages=messages, completion="an edit"),
    )
    done = export_traces(run_dir, tmp_path / "traces.jsonl")
    assert (done.records, done.skipped) == (1, 1)
    (record,) = read_jsonl(tmp_path / "traces.jsonl")
    assert record["messages"] == [
        {"role": "user", "content": "improve"},
        {"role": "assistant", "content": "an edit"},
    ]
    # No record of the run names the call: its outcome is unknown, not invented.
    assert record["metadata"]["status"] == "unknown" and record["metadata"]["parent_id"] is None


def test_a_run_with_only_start_up_checks_has_no_traces(tmp_path: Path) -> None:
    messages = json.dumps([CHECK_MESSAGE])
    run_dir = a_run_with_calls(
        tmp_path / "run", call_row("c1", "preflight", messages=messages, completion="ok")
    )
    with pytest.raises(UsageError, match="has no LLM proposals recorded yet"):
        export_traces(run_dir, tmp_path / "traces.jsonl")
