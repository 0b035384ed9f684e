"""Bounded calls: ``timeout_s`` bounds each HTTP attempt by the wall clock (a
reply that trickles in byte by byte included), ``call_deadline_s`` bounds a
whole call (every attempt, and the backoff waits between them), and a call
cancelled because the run stops is recorded as cancelled, never as a reply or
a failure, with its cancellation passed on.

Time bounds here are behavioural: each is far below what the hanging or
trickling server would take, so meeting it at all shows the bound held.
"""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from evolve.config import LLMConfig, ModelSpec, load_llm_config
from evolve.errors import ConfigError
from evolve.mutation.llm import LLMCall, LLMProposer, ModelClient
from evolve.mutation.prompts import PromptBuilder
from evolve.testing import MutatorServer
from tests.mutation.llm.helpers import PARENT, config, model, run

MESSAGES = list(PromptBuilder("You improve programs.").build(PARENT, []).messages)
BOUND_S = 15.0  # what the server would take is minutes; any end within this is the bound

pytestmark = pytest.mark.timeout(120)


async def bounded_call(cfg: LLMConfig) -> LLMCall:
    client = ModelClient(cfg.models[0], cfg, jitter_seed=1)
    try:
        outcome = await asyncio.wait_for(
            client.complete(MESSAGES, seed=7, edit_kind="diff"), BOUND_S
        )
    finally:
        await client.aclose()
    assert outcome.verdict == "fail" and outcome.text is None
    return outcome.call


def test_the_call_deadline_bounds_an_attempt_and_its_retries(server):
    srv = server(script=["hang"] * 20, hang_s=300)
    cfg = config(model(srv), timeout_s=1.0, max_retries=10, call_deadline_s=2.5)
    call = run(bounded_call(cfg))
    # Attempts of 1 s each, the third cut short by the deadline: ~2.5 s, not 11.
    assert 2.5 <= call.latency_s < BOUND_S
    assert 2 <= call.retries + 1 <= 4 and srv.stats["hang"] == call.retries + 1
    assert "call_deadline_s (2.5 s)" in call.error and call.error.startswith("gave up after")


def test_the_call_deadline_cuts_a_backoff_wait_it_would_overrun(server):
    srv = server(script=["429_retry_after"] * 5, retry_after_s=60)
    cfg = config(model(srv), max_retries=5, backoff_max_s=60.0, call_deadline_s=1.0)
    call = run(bounded_call(cfg))
    # The server asks for 60 s; the deadline leaves 1 s: give up now, do not sleep.
    assert call.latency_s < BOUND_S and call.retries == 0 and srv.stats["429_retry_after"] == 1
    assert "call_deadline_s (1 s)" in call.error and "HTTP 429" in call.error


@pytest.fixture
def trickling_url() -> Iterator[str]:
    """A server that sends a 200's headers, then its body one byte every 0.2 s:
    an HTTP read timeout never fires, since bytes keep arriving."""
    listener = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def serve(conn: socket.socket) -> None:
        with conn:
            conn.recv(65536)
            conn.sendall(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                b"Content-Length: 100000\r\n\r\n"
            )
            while not stop.wait(0.2):
                try:
                    conn.sendall(b" ")
                except OSError:
                    return

    def accept() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            threading.Thread(target=serve, args=(conn,), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    yield f"http://127.0.0.1:{listener.getsockname()[1]}/v1"
    stop.set()
    listener.close()


def test_timeout_s_bounds_an_attempt_whose_reply_trickles_in(trickling_url):
    spec = ModelSpec(name="m", base_url=trickling_url, api_key_env="")
    call = run(bounded_call(config(spec, timeout_s=1.0, max_retries=1)))
    assert call.retries == 1 and call.latency_s < BOUND_S
    assert "timeout" in call.error and "timeout_s (1 s)" in call.error


async def cancel_while_hanging(srv: MutatorServer, coro_factory):
    """Start the coroutine, cancel it once the server holds its request, and
    check the cancellation comes back out."""
    task = asyncio.ensure_future(coro_factory())
    for _ in range(200):
        if srv.stats["hang"]:
            break
        await asyncio.sleep(0.025)
    assert srv.stats["hang"] == 1
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(task, BOUND_S)
    return task


def test_a_cancelled_call_is_reported_as_cancelled_and_stays_cancelled(server):
    srv = server(script=["hang"], hang_s=300)
    cfg = config(model(srv))
    cancelled: list[LLMCall] = []

    async def scenario() -> None:
        client = ModelClient(cfg.models[0], cfg)
        try:
            await cancel_while_hanging(
                srv,
                lambda: client.complete(
                    MESSAGES, seed=7, edit_kind="diff", on_cancel=cancelled.append
                ),
            )
        finally:
            await client.aclose()

    run(scenario())
    (call,) = cancelled
    assert call.error.startswith("cancelled")
    assert call.cost_usd == 0 and call.retries == 0 and call.latency_s < BOUND_S


def test_a_cancelled_proposal_records_its_call_and_gives_back_its_model_choice(
    server, tmp_path: Path
):
    srv = server(script=["hang"], hang_s=300)
    cfg = config(model(srv))
    record = tmp_path / "llm_record.jsonl"
    proposer = LLMProposer.create(cfg, PromptBuilder("You improve programs."), record_path=record)

    async def scenario() -> None:
        try:
            await cancel_while_hanging(srv, lambda: proposer.propose(PARENT, [], 3))
        finally:
            await proposer.aclose()

    run(scenario())
    (call,) = proposer.drain_calls()
    assert call.error.startswith("cancelled") and call.cost_usd == 0
    assert proposer.budget.calls == 1  # a request was sent: counted, at no known cost
    # The proposal never happened as far as the bandit knows (a resume redoes it) ...
    assert proposer.ensemble.arms[srv.model].pulls == 0
    # ... and a replay must not answer it: nothing is recorded.
    assert record.read_text() == ""


def test_call_deadline_s_is_validated():
    spec = ModelSpec(name="m", api_key_env="")
    assert LLMConfig(models=(spec,)).call_deadline_s == 600.0
    for bad in (0.0, -1.0, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="call_deadline_s"):
            LLMConfig(models=(spec,), call_deadline_s=bad)


def test_call_deadline_s_is_read_from_the_llm_table_and_a_misspelling_is_an_error(tmp_path):
    path = tmp_path / "llm.toml"
    path.write_text('[llm]\ncall_deadline_s = 90\n[[llm.models]]\nname = "m"\n')
    assert load_llm_config(path).call_deadline_s == 90.0
    path.write_text('[llm]\ncall_deadline = 90\n[[llm.models]]\nname = "m"\n')
    with pytest.raises(ConfigError, match="call_deadline"):
        load_llm_config(path)
