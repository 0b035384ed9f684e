"""A warm sandbox of each kind for the shipped-problem tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from sandboxes.job import Sandbox


@pytest.fixture(scope="session")
def process_box() -> Iterator[Sandbox]:
    from sandboxes.process import ProcessSandbox

    box = ProcessSandbox()
    yield box
    box.close()


@pytest.fixture(scope="session")
def docker_box(docker_sandbox: Sandbox) -> Sandbox:
    return docker_sandbox
