"""ModelClient against the real mutator server through the real openai client:
usage and cost, retries on every transient fault, and failing fast at start-up."""

from __future__ import annotations

import random
import time
from email.utils import formatdate

import openai
import pytest
from openai.types.chat import ChatCompletion

from evolve.config import ModelSpec
from evolve.mutation.llm import LLMFatalError, ModelClient, check_models
from evolve.mutation.llm.client import read_reply
from evolve.mutation.llm.retry import backoff_delay, parse_retry_after
from evolve.mutation.prompts import PromptBuilder
from tests.mutation.llm.helpers import PARENT, closed_port_url, config, model, run

MESSAGES = list(PromptBuilder("You improve programs.").build(PARENT, []).messages)


async def one_call(cfg, seed=7):
    client = ModelClient(cfg.models[0], cfg, jitter_seed=1)
    try:
        return await client.complete(MESSAGES, seed=seed, edit_kind="diff")
    finally:
        await client.aclose()


def test_a_call_records_tokens_and_cost_from_the_reply_usage(server):
    srv = server()
    spec = model(srv, price_input_per_mtok=3.0, price_output_per_mtok=15.0)
    outcome = run(one_call(config(spec)))
    call = outcome.call
    assert outcome.verdict == "ok" and call.error is None and call.retries == 0
    # The same request sent with the plain openai client reports the same usage.
    raw = openai.OpenAI(base_url=srv.base_url, api_key="x", max_retries=0).chat.completions.create(
        **ModelClient(spec, config(spec)).request(MESSAGES, 7)
    )
    assert raw.choices[0].message.content == outcome.text
    assert (call.prompt_tokens, call.completion_tokens) == (
        raw.usage.prompt_tokens,
        raw.usage.completion_tokens,
    )
    assert call.prompt_tokens > 0 and call.completion_tokens > 0 and not call.usage_estimated
    expected = (call.prompt_tokens * 3.0 + call.completion_tokens * 15.0) / 1e6
    assert call.cost_usd == pytest.approx(expected)
    assert call.model == spec.name and call.edit_kind == "diff" and len(call.prompt_hash) == 64


def test_a_429_with_retry_after_waits_as_long_as_the_server_asked(server):
    srv = server(script=["429_retry_after", "ok"], retry_after_s=0.3)
    outcome = run(one_call(config(model(srv), backoff_base_s=0.001)))
    assert outcome.verdict == "ok" and outcome.call.retries == 1
    assert 0.3 <= outcome.call.latency_s < 1.0
    assert srv.stats["429_retry_after"] == 1 and srv.stats["ok"] == 1


def test_retry_after_is_capped_by_backoff_max(server):
    srv = server(script=["429_retry_after", "ok"], retry_after_s=30)
    outcome = run(one_call(config(model(srv), backoff_base_s=0.01, backoff_max_s=0.2)))
    assert outcome.verdict == "ok" and outcome.call.retries == 1
    assert 0.2 <= outcome.call.latency_s < 1.5


@pytest.mark.parametrize("fault", ["429", "500", "503"])
def test_rate_limits_and_server_errors_are_retried_with_backoff(server, fault):
    srv = server(script=[fault, fault, "ok"])
    outcome = run(one_call(config(model(srv), backoff_base_s=0.05)))
    assert outcome.verdict == "ok" and outcome.call.retries == 2
    assert outcome.call.latency_s < 1.0  # full jitter: at most 0.05 + 0.1
    assert srv.stats[fault] == 2


def test_a_hang_past_the_timeout_is_retried(server):
    srv = server(script=["hang", "ok"], hang_s=10)
    outcome = run(one_call(config(model(srv), timeout_s=0.3)))
    assert outcome.verdict == "ok" and outcome.call.retries == 1
    assert 0.3 <= outcome.call.latency_s < 2.0


def test_connection_refused_is_retried_then_recorded_as_the_error():
    spec = ModelSpec(name="m", base_url=closed_port_url(), api_key_env="")
    outcome = run(one_call(config(spec, max_retries=2)))
    assert outcome.verdict == "fail" and outcome.text is None
    assert outcome.call.retries == 2
    assert outcome.call.error.startswith("gave up after 3 attempts; last: connection error")
    assert outcome.call.cost_usd == 0 and outcome.call.prompt_tokens == 0


def test_after_max_retries_the_last_error_is_recorded(server):
    srv = server(script=["500"] * 4)
    outcome = run(one_call(config(model(srv), max_retries=3)))
    assert outcome.verdict == "fail"
    assert outcome.call.error.startswith("gave up after 4 attempts; last: HTTP 500")
    assert srv.stats["500"] == 4


def test_a_wrong_key_is_fatal_without_retries(server, monkeypatch):
    srv = server(api_key="right-key")
    monkeypatch.setenv("EVOLVE_TEST_KEY", "wrong-key")
    outcome = run(one_call(config(model(srv, api_key_env="EVOLVE_TEST_KEY"))))
    assert outcome.verdict == "fatal" and outcome.call.retries == 0
    assert "HTTP 401" in outcome.call.error


def test_check_models_rejects_a_wrong_key_at_start_up_naming_model_url_and_variable(
    server, monkeypatch
):
    srv = server(api_key="right-key")
    monkeypatch.setenv("EVOLVE_TEST_KEY", "wrong-key")
    cfg = config(model(srv, api_key_env="EVOLVE_TEST_KEY"))
    with pytest.raises(LLMFatalError) as err:
        run(check_models(cfg))
    message = str(err.value)
    assert srv.model in message and srv.base_url in message and "EVOLVE_TEST_KEY" in message
    assert "401" in message
    monkeypatch.setenv("EVOLVE_TEST_KEY", "right-key")
    run(check_models(cfg))  # the right key passes


def test_check_models_reports_an_unreachable_server_and_a_wrong_url(server):
    cfg = config(ModelSpec(name="m", base_url=closed_port_url(), api_key_env=""), max_retries=0)
    with pytest.raises(LLMFatalError, match="cannot connect"):
        run(check_models(cfg))
    srv = server()
    cfg = config(ModelSpec(name="m", base_url=srv.url + "/nope", api_key_env=""))
    with pytest.raises(LLMFatalError, match=r"not found \(HTTP 404"):
        run(check_models(cfg))


def test_a_reply_without_usage_is_estimated_and_flagged():
    reply = ChatCompletion.model_validate(
        {
            "id": "x",
            "object": "chat.completion",
            "created": 0,
            "model": "m",
            "choices": [
                {
                    "index": 0,
                    "finish_reason": "stop",
                    "message": {"role": "assistant", "content": "a" * 40},
                }
            ],
        }
    )
    parsed = read_reply(reply, [{"role": "user", "content": "b" * 400}])
    assert parsed.usage_estimated and parsed.tokens == (100, 10)
    assert parsed.text == "a" * 40 and parsed.finish_reason == "stop"


def test_retry_after_accepts_seconds_milliseconds_and_http_dates():
    now = time.time()
    assert parse_retry_after({"retry-after": "1.5"}) == 1.5
    assert parse_retry_after({"retry-after-ms": "250", "retry-after": "9"}) == 0.25
    date = formatdate(now + 20, usegmt=True)
    assert parse_retry_after({"retry-after": date}, now=now) == pytest.approx(20, abs=1)
    assert parse_retry_after({"retry-after": "soon"}) is None
    assert parse_retry_after({}) is None


def test_backoff_is_exponential_with_full_jitter_and_seeded():
    delays = [backoff_delay(a, 1.0, 10.0, random.Random(3), None) for a in range(6)]
    again = [backoff_delay(a, 1.0, 10.0, random.Random(3), None) for a in range(6)]
    assert delays == again
    assert all(0 <= d <= min(10.0, 2**a) for a, d in enumerate(delays))
    assert backoff_delay(0, 1.0, 10.0, random.Random(0), retry_after=99.0) == 10.0
