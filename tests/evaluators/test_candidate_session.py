"""candidate_session: one child for many calls, one deadline, the same errors as
call_candidate; drivers keep their own state in the child."""

from __future__ import annotations

import textwrap
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from evaluators import (
    CandidateCrashed,
    CandidateResultError,
    CandidateTimeout,
    candidate_session,
)


def program(tmp_path: Path, code: str) -> str:
    path = tmp_path / "candidate.py"
    path.write_text(textwrap.dedent(code))
    return str(path)


COUNTER = """
import os
CALLS = []

def add(x, y=0):
    CALLS.append(x)
    return x + y

def count():
    return len(CALLS)

def boom():
    raise ValueError("no good")

def stop():
    raise SystemExit(4)

def loop():
    while True:
        pass

def unsendable():
    return object()

def pid():
    return os.getpid()
"""


def test_calls_share_one_child_and_its_state(tmp_path: Path) -> None:
    path = program(tmp_path, COUNTER)
    with candidate_session(path, timeout_s=30) as candidate:
        assert candidate.call("add", 2, y=3) == 5
        assert candidate.call("add", 1.5) == 1.5
        assert candidate.call("count") == 2
        assert candidate.call("pid") == candidate.call("pid")


@settings(max_examples=25, deadline=None)
@given(
    value=st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
        lambda inner: (
            st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner, max_size=4)
        ),
        max_leaves=12,
    )
)
def test_json_values_round_trip(tmp_path_factory: pytest.TempPathFactory, value: object) -> None:
    path = program(tmp_path_factory.mktemp("s"), "def echo(v):\n    return v\n")
    with candidate_session(path, timeout_s=30) as candidate:
        assert candidate.call("echo", value) == value


def test_an_exception_is_crashed_with_its_traceback_and_ends_the_session(tmp_path: Path) -> None:
    path = program(tmp_path, COUNTER)
    with candidate_session(path, timeout_s=30) as candidate:
        with pytest.raises(CandidateCrashed, match="raised ValueError: no good") as info:
            candidate.call("boom")
        assert "no good" in info.value.traceback
        with pytest.raises(CandidateCrashed, match="closed"):
            candidate.call("count")


def test_exit_missing_function_and_unsendable_values_are_named(tmp_path: Path) -> None:
    path = program(tmp_path, COUNTER)
    with (
        candidate_session(path, timeout_s=30) as candidate,
        pytest.raises(CandidateCrashed, match=r"sys\.exit\(4\)"),
    ):
        candidate.call("stop")
    with (
        candidate_session(path, timeout_s=30) as candidate,
        pytest.raises(CandidateCrashed, match="defines no function nothing"),
    ):
        candidate.call("nothing")
    with (
        candidate_session(path, timeout_s=30) as candidate,
        pytest.raises(CandidateResultError, match="unsendable"),
    ):
        candidate.call("unsendable")


def test_the_session_deadline_kills_a_call_that_never_returns(tmp_path: Path) -> None:
    path = program(tmp_path, COUNTER)
    started = time.monotonic()
    with candidate_session(path, timeout_s=1) as candidate:
        assert candidate.call("add", 1) == 1
        with pytest.raises(CandidateTimeout, match="within 1 s"):
            candidate.call("loop")
    assert time.monotonic() - started < 30


def test_a_candidate_that_fails_to_load_says_so(tmp_path: Path) -> None:
    path = program(tmp_path, "raise RuntimeError('broken at import')\n")
    with pytest.raises(CandidateCrashed, match="broken at import"):
        candidate_session(path, timeout_s=30)


_STEPS: list[float] = []


def _remember(module: object, x: float) -> int:
    """A driver: runs in the child, keeps its own state there between calls."""
    _STEPS.append(x)
    return len(_STEPS)


def test_a_driver_keeps_its_state_in_the_child_only(tmp_path: Path) -> None:
    path = program(tmp_path, "def f():\n    return 0\n")
    with candidate_session(path, timeout_s=30) as candidate:
        assert [candidate.call(_remember, x) for x in (1.0, 2.0, 3.0)] == [1, 2, 3]
    assert _STEPS == []  # this process's copy never ran
