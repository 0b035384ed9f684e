"""One warm sandbox per backend for the whole session, shared by every corpus test.

Docker tests never skip: without a daemon the fixture fails with the fix
(`make test` installs and starts one); the Docker one is tests/conftest.py's.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from sandboxes.job import Sandbox
from sandboxes.process import ProcessSandbox

BACKENDS = ("process", "docker")


@pytest.fixture(scope="session")
def process_sandbox() -> Iterator[Sandbox]:
    box = ProcessSandbox(uid_base=62000, uid_slots=16)
    yield box
    box.close()


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> Sandbox:
    """Each corpus test runs once per backend."""
    return request.getfixturevalue(f"{request.param}_sandbox")
