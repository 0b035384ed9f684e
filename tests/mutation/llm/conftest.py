"""A factory of real mutator servers (the OpenAI-compatible offline endpoint)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from evolve.testing import FaultPlan, MutatorServer, serve_in_thread


@pytest.fixture
def server() -> Iterator[Callable[..., MutatorServer]]:
    """``server(script=[...], retry_after_s=..., api_key=..., latency_s=...)`` starts one;
    every server started is closed after the test."""
    started: list[MutatorServer] = []

    def start(
        *, api_key: str | None = None, seed: int = 0, latency_s: float = 0.0, **plan: Any
    ) -> MutatorServer:
        srv = serve_in_thread(
            seed=seed, api_key=api_key, faults=FaultPlan(**plan), latency_s=latency_s
        )
        started.append(srv)
        return srv

    yield start
    for srv in started:
        srv.close()
