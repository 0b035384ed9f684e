"""Injected faults, seen through the official client exactly as a real
endpoint's failures would be."""

from __future__ import annotations

import contextlib
import time

import openai
import pytest

from evolve.edits import EditError, apply_edit
from evolve.testing import FAULT_KINDS, OUTCOMES, FaultPlan
from tests.testing.conftest import MakeServer
from tests.testing.helpers import PARENT, prompt, sync_client


def scripted(make_server: MakeServer, *script: str, **plan: object):
    return make_server(faults=FaultPlan(script=script, **plan))  # type: ignore[arg-type]


def ask(client: openai.OpenAI, **kwargs: object):
    return client.chat.completions.create(model="m", messages=prompt(), **kwargs)


def test_scripted_http_faults_raise_the_matching_client_errors(make_server: MakeServer) -> None:
    server = scripted(make_server, "429_retry_after", "429", "500", "503", "ok", retry_after_s=7)
    with sync_client(server.base_url) as c:
        with pytest.raises(openai.RateLimitError) as limited:
            ask(c)
        assert limited.value.status_code == 429
        assert limited.value.response.headers["retry-after"] == "7"
        assert limited.value.code == "rate_limit_exceeded"
        with pytest.raises(openai.RateLimitError) as bare:
            ask(c)
        assert "retry-after" not in bare.value.response.headers
        with pytest.raises(openai.InternalServerError) as e500:
            ask(c)
        assert e500.value.status_code == 500 and e500.value.type == "server_error"
        with pytest.raises(openai.InternalServerError) as e503:
            ask(c)
        assert e503.value.status_code == 503
        apply_edit(PARENT, ask(c).choices[0].message.content or "")
    assert server.stats == {"429_retry_after": 1, "429": 1, "500": 1, "503": 1, "ok": 1}


def test_client_retries_honour_retry_after(make_server: MakeServer) -> None:
    server = scripted(make_server, "429_retry_after", "429_retry_after", retry_after_s=0.2)
    with sync_client(server.base_url, max_retries=2) as c:
        start = time.monotonic()
        reply = ask(c)
        waited = time.monotonic() - start
    apply_edit(PARENT, reply.choices[0].message.content or "")
    assert waited >= 0.4  # the client slept for the Retry-After it was given, twice
    assert server.stats == {"429_retry_after": 2, "ok": 1}


def test_hang_times_the_client_out(make_server: MakeServer) -> None:
    server = scripted(make_server, "hang", hang_s=2.0)
    with sync_client(server.base_url, timeout=0.5) as c:
        start = time.monotonic()
        with pytest.raises(openai.APITimeoutError):
            ask(c)
        assert time.monotonic() - start < 1.5
        assert ask(c).choices  # the next request is answered at once
    assert server.stats["hang"] == 1


def test_a_hang_that_ends_closes_the_connection_unanswered(make_server: MakeServer) -> None:
    server = scripted(make_server, "hang", hang_s=0.2)
    with sync_client(server.base_url, timeout=5.0) as c, pytest.raises(openai.APIConnectionError):
        ask(c)


def test_empty_choices(make_server: MakeServer) -> None:
    server = scripted(make_server, "empty_choices")
    with sync_client(server.base_url) as c:
        reply = ask(c)
    assert reply.choices == [] and reply.usage is not None
    assert reply.usage.completion_tokens == 0


@pytest.mark.parametrize(
    ("fault", "kind"),
    [
        ("garbage", "no_blocks"),
        ("bad_search", "search_not_found"),
        ("outside_block", "outside_evolve_block"),
    ],
)
def test_content_faults_are_edits_the_client_must_reject(
    make_server: MakeServer, fault: str, kind: str
) -> None:
    server = scripted(make_server, fault)
    with sync_client(server.base_url) as c:
        reply = c.chat.completions.with_raw_response.create(model="m", messages=prompt())
    assert reply.headers["x-evolve-outcome"] == fault
    completion = reply.parse()
    assert completion.choices[0].finish_reason == "stop"
    with pytest.raises(EditError) as info:
        apply_edit(PARENT, completion.choices[0].message.content or "")
    assert info.value.kind == kind
    assert server.stats == {fault: 1}


def test_fault_outcomes_are_a_pure_function_of_seed_and_index() -> None:
    plan = FaultPlan(fail_rate=0.3, seed=11)
    first = [plan.outcome(i) for i in range(2000)]
    assert first == [FaultPlan(fail_rate=0.3, seed=11).outcome(i) for i in range(2000)]
    assert first != [FaultPlan(fail_rate=0.3, seed=12).outcome(i) for i in range(2000)]
    faults = [o for o in first if o != "ok"]
    assert 0.26 < len(faults) / len(first) < 0.34
    for kind in FAULT_KINDS:  # equal default weights: about 1/9 of the faults each
        assert 0.06 < faults.count(kind) / len(faults) < 0.17, kind


def test_weights_choose_among_kinds_and_script_comes_first() -> None:
    plan = FaultPlan(fail_rate=1.0, weights={"500": 3, "garbage": 1}, script=["ok", "hang"])
    outcomes = [plan.outcome(i) for i in range(1000)]
    assert outcomes[:2] == ["ok", "hang"]
    assert set(outcomes[2:]) == {"500", "garbage"}
    assert 0.68 < outcomes.count("500") / 998 < 0.82
    assert FaultPlan().outcome(5) == "ok" and FaultPlan(fail_rate=0).outcome(0) == "ok"


def test_fail_rate_over_http_with_a_fixed_seed(make_server: MakeServer) -> None:
    weights = {"500": 1.0, "429": 1.0, "garbage": 1.0, "empty_choices": 1.0}
    plan = FaultPlan(fail_rate=0.25, weights=weights)
    server = make_server(seed=3, faults=plan)
    n = 80
    with sync_client(server.base_url) as c:
        for _ in range(n):
            with contextlib.suppress(openai.APIStatusError):
                ask(c)
    stats = server.stats
    assert sum(stats.values()) == n
    expected = [plan.outcome(i, 3) for i in range(n)]  # the server's seed is the default
    assert {k: expected.count(k) for k in set(expected)} == dict(stats)
    assert 0.1 < 1 - stats["ok"] / n < 0.4


def test_invalid_plans_are_refused() -> None:
    for bad in (
        {"fail_rate": 1.5},
        {"weights": {"teapot": 1.0}},
        {"weights": {"500": -1.0}},
        {"fail_rate": 0.5, "weights": {"500": 0.0}},
        {"script": ["ok", "418"]},
        {"hang_s": 0},
        {"retry_after_s": -1},
    ):
        with pytest.raises(ValueError):
            FaultPlan(**bad)  # type: ignore[arg-type]
    assert set(OUTCOMES) == {"ok", *FAULT_KINDS}


def test_faults_apply_to_streamed_requests_too(make_server: MakeServer) -> None:
    server = scripted(make_server, "500", "garbage")
    with sync_client(server.base_url) as c:
        with pytest.raises(openai.InternalServerError):
            ask(c, stream=True)
        pieces = [
            choice.delta.content or "" for chunk in ask(c, stream=True) for choice in chunk.choices
        ]
    with pytest.raises(EditError):
        apply_edit(PARENT, "".join(pieces))
    assert server.requests == 2
    server.reset_stats()
    assert server.stats == {}
