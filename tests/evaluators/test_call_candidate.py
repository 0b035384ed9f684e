"""call_candidate, used directly (as a scorer would) from this test process."""

from __future__ import annotations

import math
import os
import textwrap
import time
from pathlib import Path

import pytest

from evaluators import (
    CandidateCrashed,
    CandidateError,
    CandidateOutOfMemory,
    CandidateResultError,
    CandidateTimeout,
    _channel,
    call_candidate,
)


def program(tmp_path: Path, code: str) -> Path:
    path = tmp_path / "program.py"
    path.write_text(textwrap.dedent(code))
    return path


def test_returns_nested_json_values_with_nan_and_inf(tmp_path: Path) -> None:
    path = program(
        tmp_path,
        """
        def solve(n, scale=1.0):
            return {"xs": [(i * scale, None, True) for i in range(n)],
                    "bad": [float("nan"), float("inf")], "name": "ok"}
        """,
    )
    value = call_candidate(path, "solve", (2,), {"scale": 0.5})
    assert value["xs"] == [[0.0, None, True], [0.5, None, True]]
    assert math.isnan(value["bad"][0]) and value["bad"][1] == math.inf
    assert value["name"] == "ok"


def test_numpy_arrays_and_scalars_come_back_as_lists_and_numbers(tmp_path: Path) -> None:
    pytest.importorskip("numpy")
    path = program(
        tmp_path,
        """
        import numpy as np

        def solve():
            return {"a": np.arange(6).reshape(2, 3), "s": np.float32(1.5), "i": np.int64(7)}
        """,
    )
    assert call_candidate(path, "solve") == {"a": [[0, 1, 2], [3, 4, 5]], "s": 1.5, "i": 7}


def test_exception_carries_the_candidate_traceback(tmp_path: Path) -> None:
    path = program(tmp_path, "def solve():\n    return 1 / 0\n")
    with pytest.raises(CandidateCrashed, match="solve\\(\\) raised ZeroDivisionError") as info:
        call_candidate(path, "solve")
    assert "return 1 / 0" in info.value.traceback


def test_missing_function_is_named(tmp_path: Path) -> None:
    path = program(tmp_path, "def other():\n    return 1\n")
    with pytest.raises(CandidateCrashed, match="defines no function solve"):
        call_candidate(path, "solve")


def test_timeout_kills_the_whole_tree(tmp_path: Path) -> None:
    pid_file = tmp_path / "pids"
    path = program(
        tmp_path,
        f"""
        import os, time

        def solve():
            if os.fork() == 0:
                os.setsid()
                with open({str(pid_file)!r}, "w") as f:
                    f.write(str(os.getpid()))
                time.sleep(60)
            time.sleep(60)
        """,
    )
    start = time.monotonic()
    with pytest.raises(CandidateTimeout, match=r"within 0\.5 s"):
        call_candidate(path, "solve", timeout_s=0.5)
    assert time.monotonic() - start < 3
    grandchild = int(pid_file.read_text())
    deadline = time.monotonic() + 2
    while time.monotonic() < deadline:
        try:
            with open(f"/proc/{grandchild}/stat", "rb") as f:
                if f.read().rpartition(b")")[2].split()[0] == b"Z":
                    break
        except OSError:
            break
        time.sleep(0.01)
    else:
        pytest.fail(f"grandchild {grandchild} survived the timeout")


def test_memory_error_is_out_of_memory(tmp_path: Path) -> None:
    path = program(
        tmp_path,
        """
        import resource

        def solve():
            resource.setrlimit(resource.RLIMIT_AS, (512 << 20, 512 << 20))
            return len(bytearray(4 << 30))
        """,
    )
    with pytest.raises(CandidateOutOfMemory):
        call_candidate(path, "solve")


@pytest.mark.parametrize("call", ["os._exit(3)", "sys.exit(4)", "os.kill(os.getpid(), 9)"])
def test_exits_and_signals_are_crashes(tmp_path: Path, call: str) -> None:
    path = program(tmp_path, f"import os, sys\ndef solve():\n    {call}\n")
    with pytest.raises(CandidateCrashed) as info:
        call_candidate(path, "solve")
    assert any(word in str(info.value) for word in ("code 3", "sys.exit(4)", "SIGKILL"))


def test_unsendable_and_oversized_results_are_result_errors(tmp_path: Path) -> None:
    path = program(tmp_path, "def solve(big):\n    return 'x' * 5000 if big else {1, 2}\n")
    with pytest.raises(CandidateResultError, match="set"):
        call_candidate(path, "solve", (False,))
    with pytest.raises(CandidateResultError, match="more than"):
        call_candidate(path, "solve", (True,), max_result_bytes=1000)


def test_candidate_cannot_patch_the_callers_globals(tmp_path: Path) -> None:
    path = program(
        tmp_path,
        f"""
        import sys

        def solve():
            sys.modules["{__name__}"].SECRET = 0
            return 1
        """,
    )
    assert call_candidate(path, "solve") == 1
    assert SECRET == 42


SECRET = 42


def test_child_closes_the_result_channel_before_candidate_code(tmp_path: Path) -> None:
    read_fd, write_fd = os.pipe()
    _channel.claim(write_fd)
    try:
        path = program(
            tmp_path,
            f"""
            import os

            def solve():
                try:
                    os.write({write_fd}, b"forged")
                    return "open"
                except OSError:
                    return "closed"
            """,
        )
        assert call_candidate(path, "solve") == "closed"
    finally:
        _channel.close_in_child()  # forget and close it here too
        assert os.read(read_fd, 100) == b""  # every writer closed, nothing written
        os.close(read_fd)


def test_all_failures_share_the_candidate_error_base() -> None:
    for cls in (CandidateTimeout, CandidateCrashed, CandidateOutOfMemory, CandidateResultError):
        assert issubclass(cls, CandidateError)


def _sum_of_squares(module, n):
    """A scorer-side driver: calls the candidate's function many times in the child."""
    return sum(module.square(i) for i in range(n))


def test_a_scorer_driver_calls_the_candidate_in_the_child(tmp_path: Path) -> None:
    path = program(tmp_path, "import os\ndef square(x):\n    return x * x\n")
    assert call_candidate(path, _sum_of_squares, args=(100,)) == sum(i * i for i in range(100))


def test_a_driver_failure_names_the_driver(tmp_path: Path) -> None:
    path = program(tmp_path, "def square(x):\n    raise ValueError('no')\n")
    with pytest.raises(CandidateCrashed, match="_sum_of_squares"):
        call_candidate(path, _sum_of_squares, args=(3,))
