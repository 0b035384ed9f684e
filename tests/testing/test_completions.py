"""The happy path through the official ``openai`` client: schema, edits that
apply, usage, determinism, models, streaming."""

from __future__ import annotations

import asyncio
import json
import math
import urllib.request

import openai
import pytest

from evolve.edits import EditError, apply_edit, parse_search_replace
from evolve.testing import DEFAULT_MODEL, estimate_tokens
from tests.testing.conftest import MakeServer
from tests.testing.helpers import INSPIRATION, PARENT, async_client, prompt, sync_client


def test_completion_is_an_edit_that_applies_to_the_parent(client: openai.OpenAI) -> None:
    reply = client.chat.completions.create(model="gpt-test", messages=prompt(), seed=1)
    assert reply.object == "chat.completion"
    assert reply.id.startswith("chatcmpl-")
    assert reply.model == "gpt-test"  # echoed, whatever was asked for
    assert isinstance(reply.created, int)
    [choice] = reply.choices
    assert choice.index == 0 and choice.finish_reason == "stop"
    assert choice.message.role == "assistant"
    child = apply_edit(PARENT, choice.message.content or "")
    assert child != PARENT and "# EVOLVE-BLOCK-START" in child


def test_usage_is_the_documented_estimate(client: openai.OpenAI) -> None:
    messages = prompt()
    reply = client.chat.completions.create(model="m", messages=messages)
    usage = reply.usage
    assert usage is not None
    content = reply.choices[0].message.content or ""
    assert usage.completion_tokens == math.ceil(len(content) / 4) == estimate_tokens(content)
    assert usage.prompt_tokens == sum(estimate_tokens(m["content"]) for m in messages)
    assert usage.total_tokens == usage.prompt_tokens + usage.completion_tokens


def test_same_request_same_reply_and_seeds_vary_it(make_server: MakeServer) -> None:
    a, b, other = make_server(seed=0), make_server(seed=0), make_server(seed=1)

    def ask(server, **kwargs) -> str:
        with sync_client(server.base_url) as c:
            reply = c.chat.completions.create(model="m", messages=prompt(), **kwargs)
            return reply.choices[0].message.content or ""

    assert ask(a, seed=5) == ask(a, seed=5) == ask(b, seed=5)
    by_request_seed = {ask(a, seed=s) for s in range(8)}
    assert len(by_request_seed) >= 5
    by_server_seed = {ask(server) for server in (a, other)}
    assert len(by_server_seed) == 2


def test_vary_gives_identical_prompts_different_edits(make_server: MakeServer) -> None:
    fixed, varied = make_server(), make_server(vary=True)
    for server, distinct in ((fixed, 1), (varied, 4)):
        with sync_client(server.base_url) as c:
            replies = {
                c.chat.completions.create(model="m", messages=prompt(), seed=1)
                .choices[0]
                .message.content
                for _ in range(4)
            }
        assert len(replies) == distinct
        for reply in replies:
            apply_edit(PARENT, reply or "")


def test_inspirations_do_not_take_the_parents_place(client: openai.OpenAI) -> None:
    messages = prompt(PARENT, inspirations=[INSPIRATION, INSPIRATION])
    for seed in range(5):
        reply = client.chat.completions.create(model="m", messages=messages, seed=seed)
        apply_edit(PARENT, reply.choices[0].message.content or "")


def test_n_choices_are_distinct_edits(client: openai.OpenAI) -> None:
    reply = client.chat.completions.create(model="m", messages=prompt(), n=3, seed=2)
    assert [c.index for c in reply.choices] == [0, 1, 2]
    contents = [c.message.content or "" for c in reply.choices]
    assert len(set(contents)) > 1
    for content in contents:
        apply_edit(PARENT, content)
    single = client.chat.completions.create(model="m", messages=prompt(), seed=2)
    assert single.choices[0].message.content == contents[0]


def test_a_prompt_without_a_program_gets_prose_not_an_error(make_server: MakeServer) -> None:
    server = make_server()
    with sync_client(server.base_url) as c:
        reply = c.chat.completions.create(
            model="m", messages=[{"role": "user", "content": "Write me a poem."}]
        )
    content = reply.choices[0].message.content or ""
    assert reply.choices[0].finish_reason == "stop" and "EVOLVE-BLOCK" in content
    with pytest.raises(EditError) as info:
        parse_search_replace(content)
    assert info.value.kind == "no_blocks"
    assert server.stats["no_edit"] == 1 and server.stats["ok"] == 0


def test_max_tokens_cuts_the_reply_with_finish_reason_length(client: openai.OpenAI) -> None:
    reply = client.chat.completions.create(model="m", messages=prompt(), max_tokens=5)
    choice = reply.choices[0]
    assert choice.finish_reason == "length" and len(choice.message.content or "") == 20
    assert reply.usage is not None and reply.usage.completion_tokens == 5


def test_models_lists_the_served_model(make_server: MakeServer) -> None:
    server = make_server(model="offline-x")
    with sync_client(server.base_url) as c:
        assert [m.id for m in c.models.list().data] == ["offline-x"]
        assert c.models.retrieve("offline-x").id == "offline-x"
        with pytest.raises(openai.NotFoundError):
            c.models.retrieve("gpt-5")
    assert DEFAULT_MODEL == "evolve-offline"


def test_streaming_sends_the_same_content_as_sse_chunks(client: openai.OpenAI) -> None:
    plain = client.chat.completions.create(model="m", messages=prompt(), seed=4)
    stream = client.chat.completions.create(
        model="m",
        messages=prompt(),
        seed=4,
        stream=True,
        stream_options={"include_usage": True},
    )
    pieces, finish, usage = [], None, None
    for chunk in stream:
        assert chunk.object == "chat.completion.chunk" and chunk.model == "m"
        for choice in chunk.choices:
            pieces.append(choice.delta.content or "")
            finish = choice.finish_reason or finish
        usage = chunk.usage or usage
    assert "".join(pieces) == plain.choices[0].message.content
    assert finish == "stop" and usage == plain.usage
    # The connection stays usable after a stream (chunked encoding, keep-alive).
    assert client.chat.completions.create(model="m", messages=prompt(), seed=4).choices


def test_async_client_gets_the_same_edit(server, client: openai.OpenAI) -> None:
    expected = client.chat.completions.create(model="m", messages=prompt(), seed=9)

    async def ask() -> str:
        async with async_client(server.base_url) as c:
            reply = await c.chat.completions.create(model="m", messages=prompt(), seed=9)
            return reply.choices[0].message.content or ""

    assert asyncio.run(ask()) == expected.choices[0].message.content


def test_base_url_without_v1_also_works(server) -> None:
    with sync_client(server.url) as c:
        reply = c.chat.completions.create(model="m", messages=prompt())
    apply_edit(PARENT, reply.choices[0].message.content or "")


def test_content_parts_are_read_like_strings(client: openai.OpenAI) -> None:
    text = prompt()[1]["content"]
    parts = [{"type": "text", "text": text}]
    plain = client.chat.completions.create(
        model="m", messages=[{"role": "user", "content": text}], seed=3
    )
    as_parts = client.chat.completions.create(
        model="m", messages=[{"role": "user", "content": parts}], seed=3
    )
    apply_edit(PARENT, as_parts.choices[0].message.content or "")
    assert plain.usage == as_parts.usage
    assert plain.choices[0].message.content == as_parts.choices[0].message.content


def test_raw_json_matches_the_openai_schema(server) -> None:
    body = json.dumps({"model": "m", "messages": prompt()}).encode()
    request = urllib.request.Request(
        f"{server.base_url}/chat/completions",
        data=body,
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.headers["Content-Type"] == "application/json"
        assert response.headers["x-evolve-outcome"] == "ok"
        reply = json.loads(response.read())
    assert set(reply) >= {"id", "object", "created", "model", "choices", "usage"}
    assert set(reply["choices"][0]) >= {"index", "message", "finish_reason"}
    assert set(reply["usage"]) == {"prompt_tokens", "completion_tokens", "total_tokens"}
