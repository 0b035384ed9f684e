"""Fixtures for the sandbox tests: one warm ProcessSandbox for the session."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from sandboxes.process import ProcessSandbox


@pytest.fixture(scope="session")
def sandbox() -> Iterator[ProcessSandbox]:
    box = ProcessSandbox()
    yield box
    box.close()
