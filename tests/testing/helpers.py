"""Prompts and clients shared by the mutator-server tests."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence

import openai

from evolve.testing import MutatorServer
from tests.edits.programs import RANDOM_SEARCH

PARENT = RANDOM_SEARCH
INSPIRATION = """import random


# EVOLVE-BLOCK-START
def search(f, rng):
    step = 0.1
    x = 3.0
    return x, f(x)
# EVOLVE-BLOCK-END
"""


def prompt(parent: str = PARENT, inspirations: Sequence[str] = ()) -> list[dict[str, str]]:
    """Chat messages shaped like an evolution prompt: inspirations first, the
    current program last (the offline mutator takes the last marked block)."""
    parts = ["Improve the program. Answer with SEARCH/REPLACE blocks."]
    for code in inspirations:
        parts.append(f"An earlier attempt:\n```python\n{code}```")
    parts.append(f"# Current program\n```python\n{parent}```")
    return [
        {"role": "system", "content": "You are an expert programmer."},
        {"role": "user", "content": "\n\n".join(parts)},
    ]


def sync_client(base_url: str, **kwargs: object) -> openai.OpenAI:
    """The official client, never via a proxy from the environment."""
    kwargs.setdefault("max_retries", 0)
    kwargs.setdefault("timeout", 10.0)
    return openai.OpenAI(
        base_url=base_url,
        api_key=kwargs.pop("api_key", "x"),
        http_client=openai.DefaultHttpxClient(trust_env=False),
        **kwargs,
    )


def async_client(base_url: str, **kwargs: object) -> openai.AsyncOpenAI:
    kwargs.setdefault("max_retries", 0)
    kwargs.setdefault("timeout", 10.0)
    return openai.AsyncOpenAI(
        base_url=base_url,
        api_key=kwargs.pop("api_key", "x"),
        http_client=openai.DefaultAsyncHttpxClient(trust_env=False),
        **kwargs,
    )


def wait_until(condition: Callable[[], bool], timeout_s: float = 5.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(0.01)


def post(server: MutatorServer, path: str, body: bytes, **headers: str) -> tuple[int, dict]:
    request = urllib.request.Request(
        f"{server.url}{path}", data=body, headers={"Content-Type": "application/json", **headers}
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())
