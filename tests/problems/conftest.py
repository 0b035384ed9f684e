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
def docker_box() -> Iterator[Sandbox]:
    from sandboxes.docker.image import ImageError
    from sandboxes.docker.sandbox import DockerSandbox

    try:
        box = DockerSandbox(max_containers=2, run_label="problem-tests")
    except ImageError as exc:
        pytest.fail(f"the Docker sandbox is required for these tests: {exc}")
    yield box
    box.close()
