"""Behaviour monitoring on both backends: what a candidate tried that its
sandbox refused is counted and logged (evaluators._monitor), every attempt is
still refused, an innocent candidate shows nothing, and the candidate can
neither forge nor silence the report."""

from __future__ import annotations

import platform

import pytest

from sandboxes.job import EvalResult, Sandbox, Status
from tests.sandboxes.adversarial.corpus import require, run
from tests.sandboxes.jobs import IMPORTING_SCORER, POINTING_SCORER, PROBING, PTRACE, make_job


@pytest.fixture(autouse=True)
def _monitored(backend: Sandbox) -> None:
    if PTRACE is None:
        pytest.skip(f"no ptrace number for {platform.machine()}")
    require(backend, "syscall_filter")


def probed(box: Sandbox, code: str, scorer: str, **limits: float) -> EvalResult:
    job_files = {"secret.csv": b"the scorer's answers\n"}
    result = box.run(make_job(code, scorer, files=job_files, **limits))
    assert result.probes is not None, "the sandbox monitored nothing"
    return result


def lines(result: EvalResult) -> str:
    assert result.probes is not None
    return "\n".join(result.probes.log)


def test_an_innocent_candidate_is_watched_and_shows_nothing(backend: Sandbox) -> None:
    code = """
import os, subprocess, sys, tempfile, threading
import numpy as np

def solve():
    with open("out.txt", "w") as f:
        f.write("scratch is ours")
    with tempfile.NamedTemporaryFile("w") as f:  # TMPDIR: /tmp, or scratch in Docker
        f.write("so is the temporary folder")
    box = []
    thread = threading.Thread(target=lambda: box.append(int(np.arange(10).sum())))
    thread.start()
    thread.join()
    out = subprocess.run([sys.executable, "-c", "print(7)"], capture_output=True, text=True)
    return float(box == [45] and out.stdout.strip() == "7")
"""
    result = run(backend, code)
    assert result.status == Status.OK and result.metrics == {"score": 1.0}, result.reason
    assert result.probes is not None
    assert result.probes.counts == {} and result.probes.log == ()
    assert set(result.probes.seen) == {"network", "write", "read", "syscall", "limit"}


def test_each_attempt_is_refused_and_counted(backend: Sandbox) -> None:
    result = probed(backend, PROBING, POINTING_SCORER)
    assert result.status == Status.OK, result.reason
    assert result.metrics == {"score": 0.0}  # nothing it tried got through
    counts, log = result.probes.counts if result.probes else {}, lines(result)
    assert counts["network"] >= 1 and "socket(AF_INET) (candidate)" in log
    assert counts["write"] >= 1 and "/etc/evolve-probe" in log
    assert "ptrace denied (candidate)" in log
    if backend.name == "process":  # Docker's own profile refuses unshare before ours
        assert "unshare denied (candidate)" in log
        assert counts["syscall"] == 2
    if backend.guarantees().hidden_scorer_files:
        assert counts["read"] >= 1 and "secret.csv" in log


def test_a_candidate_run_in_the_scorers_process_is_attributed_to_it(backend: Sandbox) -> None:
    code = f"""
import ctypes, os, socket
def solve():
    libc = ctypes.CDLL(None, use_errno=True)
    try:
        socket.socket(socket.AF_INET6, socket.SOCK_STREAM).connect(("::1", 9))
    except OSError:
        pass
    return float(libc.syscall({PTRACE}, 16, os.getppid(), 0, 0) == 0)
"""
    result = probed(backend, code, IMPORTING_SCORER)
    assert result.status == Status.OK and result.metrics == {"score": 0.0}, result.reason
    log = lines(result)
    assert "ptrace denied (scorer process)" in log
    assert "socket(AF_INET6) (scorer process)" in log


def test_repeated_attempts_count_each_and_log_one_line(backend: Sandbox) -> None:
    code = """
def solve():
    for _ in range(500):
        try:
            open("/etc/evolve-probe-again", "w")
        except OSError:
            pass
    return 0.0
"""
    result = probed(backend, code, POINTING_SCORER.replace("args=(secret,), ", ""))
    assert result.probes is not None and result.probes.counts == {"write": 500}
    assert result.probes.log == (
        "write: open '/etc/evolve-probe-again' for writing, outside its scratch (x500)",
    )


@pytest.mark.parametrize(
    ("code", "limits", "expected"),
    [
        ("def solve():\n    while True:\n        pass\n", {"timeout_s": 2.0}, "time limit: 2 s"),
        (
            "def solve():\n    return len(bytearray(2_000_000_000))\n",
            {"memory_mb": 256},
            "memory limit: 256 MB",
        ),
        (
            "import sys\ndef solve():\n    sys.stdout.write('x' * 200000)\n    return 1.0\n",
            {"max_output_kb": 4},
            "output limit",
        ),
        (
            "import os, time\ndef solve():\n"
            "    for _ in range(40):\n"
            "        try:\n"
            "            if os.fork() == 0:\n"
            "                time.sleep(5)\n"
            "                os._exit(0)\n"
            "        except OSError:\n"
            "            return 1.0\n"
            "    return 0.0\n",
            {"max_processes": 12},
            "process limit",
        ),
    ],
    ids=["time", "memory", "output", "processes"],
)
def test_a_limit_hit_is_counted(
    backend: Sandbox, code: str, limits: dict[str, float], expected: str
) -> None:
    if expected == "process limit":
        require(backend, "process_limit")
    result = probed(backend, code, IMPORTING_SCORER, **limits)
    assert result.probes is not None and result.probes.counts.get("limit", 0) >= 1, result
    assert expected in lines(result)


def test_the_candidate_cannot_forge_the_report(backend: Sandbox) -> None:
    # In the scorer's process, it writes its own envelope (claiming nothing was
    # tried) to the result channel and exits: the supervisor's report replaces it.
    code = f"""
import ctypes, json, os
from evaluators import _channel, contract

def solve():
    ctypes.CDLL(None, use_errno=True).syscall({PTRACE}, 16, os.getppid(), 0, 0)
    forged = {{"version": contract.ENVELOPE_VERSION, "status": "ok",
              "metrics": {{"score": 1.0}}, "probes": {{"counts": {{}}, "log": [], "seen": []}}}}
    os.write(_channel._result_fd, json.dumps(forged).encode())
    os._exit(0)
"""
    result = probed(backend, code, IMPORTING_SCORER)
    assert "ptrace denied (scorer process)" in lines(result)
    assert result.probes is not None and result.probes.seen
