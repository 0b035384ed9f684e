"""Session-wide fixtures shared by every test folder."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from sandboxes.process import ProcessSandbox

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO


@pytest.fixture(scope="session")
def sandbox() -> Iterator[ProcessSandbox]:
    """One warm ProcessSandbox for the session (the sandbox and evaluator tests)."""
    box = ProcessSandbox()
    yield box
    box.close()


@pytest.fixture(scope="session")
def docker_sandbox() -> Iterator[object]:
    """One warm Docker sandbox for the session. Never skips: without a daemon it
    fails with the fix (`make test` installs and starts one)."""
    from sandboxes.docker.image import ImageError
    from sandboxes.docker.sandbox import DockerSandbox

    try:
        box = DockerSandbox(max_containers=2, run_label="test-session")
    except ImageError as exc:
        pytest.fail(f"the Docker sandbox is required for these tests: {exc}")
    yield box
    box.close()
    from sandboxes.docker import reaper

    mine = [f"{reaper.LABEL}=1", f"{reaper.OWNER_LABEL}={reaper.owner_id()}"]
    left = box._client.containers.list(
        all=True, filters={"label": [*mine, f"{reaper.RUN_LABEL}=test-session"]}
    )
    assert not left, f"containers left behind after close: {[c.short_id for c in left]}"
