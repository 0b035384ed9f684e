"""A refused allocation is the memory limit at work: ``oom`` with the key that
raises it, also when it shows only as a native crash (JAX under a 1 GiB
address-space limit: ``std::bad_alloc``, then SIGSEGV) or as ENOMEM."""

from __future__ import annotations

import signal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from evaluators import _endings
from sandboxes.job import Sandbox, Status
from tests.sandboxes.jobs import make_job

LIMITS = {"timeout_s": 10, "resources": {"memory_mb": 1024}}


def _signalled(sig: int) -> int:
    return int(sig)  # a wait status: terminated by ``sig``, no core


def _exited(code: int) -> int:
    return code << 8


def test_a_native_crash_after_a_refused_allocation_is_oom() -> None:
    err = (
        "terminate called after throwing an instance of 'St9bad_alloc'\n  what():  std::bad_alloc\n"
    )
    status, reason = _endings.no_result(_signalled(signal.SIGSEGV), False, LIMITS, 40.0, err)
    assert status == Status.OOM
    assert "bad_alloc" in reason and "1024 MB of address space" in reason
    assert "--memory-mb" in reason and "[resources] memory_mb" in reason


def test_a_crash_without_a_word_of_memory_stays_an_error_with_the_hint() -> None:
    status, reason = _endings.no_result(_signalled(signal.SIGSEGV), False, LIMITS, 40.0, "")
    assert status == Status.ERROR
    assert "killed by SIGSEGV" in reason and "--memory-mb" in reason  # JAX may crash silently
    status, reason = _endings.no_result(_signalled(signal.SIGKILL), False, LIMITS, 40.0, "")
    assert status == Status.ERROR and "--memory-mb" not in reason  # killed, not crashed


def test_killed_near_the_limit_is_oom_and_timeouts_stay_timeouts() -> None:
    assert _endings.no_result(_signalled(signal.SIGKILL), False, LIMITS, 1000.0, "")[0] == (
        Status.OOM
    )
    assert _endings.no_result(_signalled(signal.SIGKILL), True, LIMITS, 1000.0, "")[0] == (
        Status.TIMEOUT
    )
    status, reason = _endings.no_result(_exited(1), False, LIMITS, 10.0, "Cannot allocate memory")
    assert status == Status.OOM and "exited with code 1" in reason


@given(st.text(max_size=200))
def test_any_stderr_gives_a_status_and_a_reason(err: str) -> None:
    for wait_status in (_signalled(signal.SIGABRT), _exited(3)):
        status, reason = _endings.no_result(wait_status, False, LIMITS, 10.0, err)
        assert status in (Status.OOM, Status.ERROR) and reason
        assert (status == Status.OOM) == (_endings.allocation_failure(err) is not None)


@pytest.fixture(params=["process", "docker"])
def box(request: pytest.FixtureRequest) -> Sandbox:
    return request.getfixturevalue(
        {"process": "sandbox", "docker": "docker_sandbox"}[request.param]
    )


ABORTS_AFTER_BAD_ALLOC = """
import os, sys

def evaluate(program_path):
    sys.stderr.write("terminate called after throwing an instance of 'std::bad_alloc'\\n")
    sys.stderr.flush()
    os.abort()
"""

RAISES_ENOMEM = """
import errno

def evaluate(program_path):
    raise OSError(errno.ENOMEM, "Cannot allocate memory")
"""


def test_in_both_sandboxes_a_refused_allocation_is_oom(box: Sandbox) -> None:
    aborted = box.run(make_job("def solve():\n    return 1\n", ABORTS_AFTER_BAD_ALLOC))
    assert aborted.status == Status.OOM, aborted.reason
    assert "crashed" in aborted.reason and "--memory-mb" in aborted.reason
    raised = box.run(make_job("def solve():\n    return 1\n", RAISES_ENOMEM))
    assert raised.status == Status.OOM, raised.reason
    assert "Cannot allocate memory" in raised.reason and "--memory-mb" in raised.reason
