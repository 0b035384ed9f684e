"""Fixtures for the mutator-server tests: servers on 127.0.0.1 only, closed
after each test, and official ``openai`` clients pointed at them."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import openai
import pytest

from evolve.testing import MutatorServer, serve_in_thread
from tests.testing.helpers import sync_client

MakeServer = Callable[..., MutatorServer]


@pytest.fixture
def make_server() -> Iterator[MakeServer]:
    """``make_server(**serve_in_thread kwargs)``; every server is closed at teardown."""
    servers: list[MutatorServer] = []

    def make(**kwargs: object) -> MutatorServer:
        kwargs.setdefault("host", "127.0.0.1")
        server = serve_in_thread(**kwargs)  # type: ignore[arg-type]
        servers.append(server)
        return server

    yield make
    for server in servers:
        server.close()


@pytest.fixture
def server(make_server: MakeServer) -> MutatorServer:
    return make_server()


@pytest.fixture
def client(server: MutatorServer) -> Iterator[openai.OpenAI]:
    with sync_client(server.base_url) as c:
        yield c
