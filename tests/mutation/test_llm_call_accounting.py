"""Every LLM call is a row of the run's llm_calls table, the start-up check
included, and every row keeps the texts: the messages sent and the reply.
Checked against the real local OpenAI-compatible server, whose own token count
(what it billed) must equal the table's and `evolve show`'s."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest

from evolve.analysis.summary import run_summary
from evolve.config import LLMConfig, ModelSpec, load_problem
from evolve.engine import RunLimits
from evolve.engine.runner import RunOptions, resume_run, start_run
from evolve.mutation.llm import check_models
from evolve.mutation.llm.client import CHECK_MESSAGE
from evolve.mutation.setup import settings_for
from evolve.store import RunStore
from evolve.testing import FaultPlan, MutatorServer, serve_in_thread
from tests.problem_factory import write_problem

pytestmark = pytest.mark.timeout(180)


def two_models(server: MutatorServer) -> LLMConfig:
    """Two priced models on one server, so each gets its own start-up check."""
    common: dict[str, Any] = {"name": server.model, "base_url": server.base_url, "api_key_env": ""}
    return LLMConfig(
        models=(
            ModelSpec(label="cheap", price_input_per_mtok=1.0, price_output_per_mtok=2.0, **common),
            ModelSpec(
                label="pricey", price_input_per_mtok=3.0, price_output_per_mtok=6.0, **common
            ),
        ),
        timeout_s=5.0,
        max_retries=0,
    )


def calls_of(run_dir: Path) -> list[dict[str, Any]]:
    return RunStore.open(run_dir).read_table("llm_calls").to_pylist()


def tokens(calls: list[dict[str, Any]]) -> tuple[int, int]:
    return sum(c["prompt_tokens"] for c in calls), sum(c["completion_tokens"] for c in calls)


def start(problem: Path, run_dir: Path, config: LLMConfig, **settings: Any) -> None:
    options = RunOptions(
        sandbox="process",
        deterministic=True,
        seed=3,
        mutation=settings_for(config, settings.get("record", False), settings.get("replay")),
    )
    start_run(problem, run_dir, options, RunLimits(evaluations=6, concurrency=1))


def test_the_start_up_checks_are_rows_and_the_tokens_are_the_servers(tmp_path: Path) -> None:
    problem = write_problem(tmp_path / "problem")
    with serve_in_thread(keep_messages=True) as server:
        start(problem, tmp_path / "run", two_models(server))
        billed, received = server.usage, server.received
    calls = calls_of(tmp_path / "run")
    checks = [c for c in calls if c["edit_kind"] == "preflight"]
    assert sorted(c["model"] for c in checks) == ["cheap", "pricey"]
    for check in checks:
        assert check["error"] is None and check["prompt_tokens"] > 0
        assert check["completion_tokens"] > 0 and check["cost_usd"] > 0
        assert json.loads(check["messages"]) == [CHECK_MESSAGE]
        assert check["completion"] is not None
    # Every request the server answered is a row, and the tokens are what it billed.
    assert len(received) == len(calls) > len(checks)
    assert tokens(calls) == (billed["prompt_tokens"], billed["completion_tokens"])
    summary = run_summary(tmp_path / "run")
    assert summary["llm"]["calls"] == len(calls)
    assert summary["llm"]["tokens"] == billed["total_tokens"]
    assert summary["llm"]["cost_usd"] == pytest.approx(sum(c["cost_usd"] for c in calls))
    # The run's own counters (the closing report) agree with the table.
    checkpoint = RunStore.open(tmp_path / "run").load_checkpoint(database=False)
    assert checkpoint is not None
    assert checkpoint["controller"]["llm_tokens"] == billed["total_tokens"]


def test_a_resume_records_its_own_start_up_checks(tmp_path: Path) -> None:
    problem = write_problem(tmp_path / "problem")
    run_dir = tmp_path / "run"
    with serve_in_thread() as server:
        config = two_models(server)
        start(problem, run_dir, config)
        resume_run(run_dir, RunLimits(evaluations=3, concurrency=1))
        billed = server.usage
    calls = calls_of(run_dir)
    assert [c["model"] for c in calls if c["edit_kind"] == "preflight"].count("cheap") == 2
    assert len([c for c in calls if c["edit_kind"] == "preflight"]) == 4
    assert tokens(calls) == (billed["prompt_tokens"], billed["completion_tokens"])


def test_every_proposal_call_keeps_the_messages_sent_and_the_reply(tmp_path: Path) -> None:
    problem = write_problem(tmp_path / "problem")
    system = load_problem(problem).spec.prompt.system
    # request 3 (the first proposal) fails with 503 and no retries: no reply
    with serve_in_thread(keep_messages=True, faults=FaultPlan(script=("ok", "ok", "503"))) as srv:
        start(problem, tmp_path / "run", two_models(srv))
        received = srv.received
    proposals = [c for c in calls_of(tmp_path / "run") if c["edit_kind"] != "preflight"]
    sent = [json.loads(c["messages"]) for c in proposals]
    assert sorted(map(json.dumps, sent)) == sorted(
        json.dumps(m) for m in received if m != [CHECK_MESSAGE]
    )
    for messages in sent:
        assert [m["role"] for m in messages] == ["system", "user"]
        assert messages[0]["content"] == system
    failed = [c for c in proposals if c["error"] is not None]
    assert len(failed) == 1 and failed[0]["completion"] is None
    replied = [c for c in proposals if c["error"] is None]
    assert replied and all(c["completion"] for c in replied)


def test_replayed_calls_carry_the_recorded_texts(tmp_path: Path) -> None:
    problem = write_problem(tmp_path / "problem")
    with serve_in_thread() as server:
        config = two_models(server)
        start(problem, tmp_path / "recorded", config, record=True)
    # The server is gone: every answer comes from the record.
    start(problem, tmp_path / "replayed", config, replay=str(tmp_path / "recorded"))

    def texts(run: str) -> list[tuple[str, str | None]]:
        calls = [c for c in calls_of(tmp_path / run) if c["edit_kind"] != "preflight"]
        return sorted((c["messages"], c["completion"]) for c in calls)

    replayed = calls_of(tmp_path / "replayed")
    assert replayed and all(c["replayed"] for c in replayed)  # and no start-up check
    assert all(c["messages"] and c["completion"] is not None for c in replayed)
    assert texts("replayed") == texts("recorded")


def test_check_models_returns_a_record_per_model_and_one_for_a_passing_429() -> None:
    with serve_in_thread(faults=FaultPlan(script=("ok", "429", "429", "429"))) as server:
        config = dataclasses.replace(two_models(server), max_retries=5)
        checks = asyncio.run(check_models(config))
        billed = server.usage
    cheap, pricey = checks
    assert (cheap.model, pricey.model) == ("cheap", "pricey")
    assert cheap.error is None and cheap.total_tokens == billed["total_tokens"] > 0
    assert cheap.edit_kind == pricey.edit_kind == "preflight"
    # A rate limit proves the key works: the check passes, after the client's
    # two retries, and its record says what happened and costs nothing.
    assert pricey.error is not None and "429" in pricey.error
    assert pricey.retries == 2 and pricey.total_tokens == 0 and pricey.cost_usd == 0
    assert pricey.completion is None and json.loads(pricey.messages or "") == [CHECK_MESSAGE]


def test_an_offline_run_makes_and_records_no_llm_calls(tmp_path: Path) -> None:
    problem = write_problem(tmp_path / "problem")
    start_run(problem, tmp_path / "run", RunOptions(sandbox="process"), RunLimits(evaluations=2))
    assert calls_of(tmp_path / "run") == []
