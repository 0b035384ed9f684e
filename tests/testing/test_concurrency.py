"""A hung request blocks nobody: not other requests, not close(), not exit."""

from __future__ import annotations

import asyncio
import threading
import time

import openai
import pytest

from evolve.edits import apply_edit
from evolve.testing import FaultPlan
from tests.testing.conftest import MakeServer
from tests.testing.helpers import PARENT, async_client, prompt, sync_client, wait_until


def test_eight_parallel_requests_complete_while_one_hangs(make_server: MakeServer) -> None:
    server = make_server(faults=FaultPlan(script=["hang"], hang_s=2.0))

    async def scenario() -> tuple[list[str], float]:
        async with (
            async_client(server.base_url, timeout=0.5) as impatient,
            async_client(server.base_url, timeout=5.0) as c,
        ):
            hung = asyncio.create_task(
                impatient.chat.completions.create(model="m", messages=prompt())
            )
            await asyncio.to_thread(wait_until, lambda: server.stats["hang"] == 1)
            start = time.monotonic()
            replies = await asyncio.gather(
                *(c.chat.completions.create(model="m", messages=prompt(), seed=s) for s in range(8))
            )
            elapsed = time.monotonic() - start
            with pytest.raises(openai.APITimeoutError):
                await hung
            return [r.choices[0].message.content or "" for r in replies], elapsed

    contents, elapsed = asyncio.run(scenario())
    assert elapsed < 1.5  # well inside the 2 s hang
    for content in contents:
        apply_edit(PARENT, content)
    assert server.stats == {"hang": 1, "ok": 8}


def test_close_is_prompt_while_a_request_hangs(make_server: MakeServer) -> None:
    server = make_server(faults=FaultPlan(script=["hang"], hang_s=60.0))
    errors: list[BaseException] = []

    def hang() -> None:
        with sync_client(server.base_url, timeout=30.0) as c:
            try:
                c.chat.completions.create(model="m", messages=prompt())
            except BaseException as exc:
                errors.append(exc)

    caller = threading.Thread(target=hang, daemon=True)
    caller.start()
    wait_until(lambda: server.stats["hang"] == 1)
    start = time.monotonic()
    server.close()
    assert time.monotonic() - start < 1.0
    caller.join(timeout=5)
    assert not caller.is_alive()
    assert errors and isinstance(errors[0], openai.APIConnectionError)
    server.close()  # idempotent


def test_closed_server_ends_keep_alive_connections(make_server: MakeServer) -> None:
    server = make_server()
    with sync_client(server.base_url) as c:
        assert c.chat.completions.create(model="m", messages=prompt()).choices
        server.close()  # the client's pooled connection must not reach a zombie handler
        with pytest.raises(openai.APIConnectionError):
            c.chat.completions.create(model="m", messages=prompt())
    assert not [t for t in threading.enumerate() if t.name.endswith(f":{server.port}")]


def test_latency_delays_every_completion(make_server: MakeServer) -> None:
    server = make_server(latency_s=0.2)
    with sync_client(server.base_url) as c:
        start = time.monotonic()
        c.chat.completions.create(model="m", messages=prompt())
        assert time.monotonic() - start >= 0.2
