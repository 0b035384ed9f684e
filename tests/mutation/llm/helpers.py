"""Programs, configs and a runner shared by the LLM tests."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Coroutine
from typing import Any, TypeVar

from evolve.config import LLMConfig, ModelSpec
from evolve.records import Program, Status
from evolve.testing import MutatorServer
from tests.edits.programs import RANDOM_SEARCH

T = TypeVar("T")

PARENT = Program(
    id="p000001",
    code=RANDOM_SEARCH,
    status=Status.OK,
    score=0.5,
    fitness=0.5,
    metrics={"score": 0.5},
    artifacts={"stderr": "warning: slow convergence\n"},
)
INSPIRATION = Program(
    id="p000002",
    code=RANDOM_SEARCH.replace("step = 0.5", "step = 0.3"),
    status=Status.OK,
    score=0.6,
    fitness=0.6,
    metrics={"score": 0.6},
)


def model(server: MutatorServer, **overrides: Any) -> ModelSpec:
    """A model entry pointing at a local mutator server (no key needed)."""
    fields: dict[str, Any] = {
        "name": server.model,
        "base_url": server.base_url,
        "api_key_env": "",
    }
    fields.update(overrides)
    return ModelSpec(**fields)


def config(*models: ModelSpec, **overrides: Any) -> LLMConfig:
    """A config with fast retries, so fault tests take milliseconds."""
    fields: dict[str, Any] = {
        "models": tuple(models),
        "timeout_s": 2.0,
        "max_retries": 3,
        "backoff_base_s": 0.01,
        "backoff_max_s": 1.0,
    }
    fields.update(overrides)
    return LLMConfig(**fields)


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


def closed_port_url() -> str:
    """A base URL on which nothing listens (connection refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/v1"
