"""Hostile or broken candidates: every one must end cleanly with an honest status."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from sandboxes.job import Status
from sandboxes.process import ProcessSandbox
from tests.sandboxes.jobs import CALLING_SCORER, IMPORTING_SCORER, Listener, make_job


def pid_alive(pid: int) -> bool:
    """True if ``pid`` exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            return f.read().rpartition(b")")[2].split()[0] != b"Z"
    except OSError:
        return False


def uid_processes(uids: range) -> list[int]:
    """Pids whose real uid lies in ``uids``."""
    found = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                with open(f"/proc/{name}/status", "rb") as f:
                    line = next(x for x in f if x.startswith(b"Uid:"))
            except (OSError, StopIteration):
                continue
            if int(line.split()[1]) in uids:
                found.append(int(name))
    return found


@pytest.mark.parametrize("scorer", [CALLING_SCORER, IMPORTING_SCORER], ids=["child", "in-process"])
def test_infinite_loop_times_out(sandbox: ProcessSandbox, scorer: str) -> None:
    start = time.monotonic()
    result = sandbox.run(
        make_job("def solve():\n    while True:\n        pass\n", scorer, timeout_s=1)
    )
    assert result.status == Status.TIMEOUT
    assert "1 s timeout" in result.reason
    assert time.monotonic() - start < 5


def test_candidate_timeout_inside_call_candidate_maps_to_timeout(sandbox: ProcessSandbox) -> None:
    scorer = """
    from evaluators import call_candidate

    def evaluate(p):
        return {"score": call_candidate(p, "solve", timeout_s=0.5)}
    """
    result = sandbox.run(make_job("import time\ndef solve():\n    time.sleep(60)\n", scorer))
    assert result.status == Status.TIMEOUT
    assert "solve() did not return within 0.5 s" in result.reason


def test_sleeping_past_the_deadline_times_out(sandbox: ProcessSandbox) -> None:
    code = "import time\ndef solve():\n    time.sleep(60)\n"
    result = sandbox.run(make_job(code, IMPORTING_SCORER, timeout_s=0.5))
    assert result.status == Status.TIMEOUT
    assert result.wall_time_s < 3


# The grandchild becomes `sleep 120.<marker>`: found on the host by its command
# line, since its pid inside the job's PID namespace means nothing out here.
ESCAPER = """
import os, random, sys, time

def solve():
    if os.fork() == 0:
        os.setsid()
        if os.fork() == 0:
            marker = "120.%06d" % random.randrange(10**6)
            print(f"GRANDCHILD {marker}", flush=True)
            os.execv("/bin/sleep", ["sleep", marker])
        os._exit(0)
    time.sleep(0.3)
    return 1.0
"""


def sleeping_with(marker: str) -> list[int]:
    """Host pids of live processes whose command line is ``sleep <marker>``."""
    found = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                with open(f"/proc/{name}/cmdline", "rb") as f:
                    if f.read().split(b"\0")[:2] == [b"sleep", marker.encode()]:
                        found.append(int(name))
            except OSError:
                continue
    return [pid for pid in found if pid_alive(pid)]


@pytest.mark.parametrize("scorer", [CALLING_SCORER, IMPORTING_SCORER], ids=["child", "in-process"])
def test_double_forked_setsid_grandchild_does_not_survive(
    sandbox: ProcessSandbox, scorer: str
) -> None:
    result = sandbox.run(make_job(ESCAPER, scorer))
    assert result.status == Status.OK, result.reason
    match = re.search(r"GRANDCHILD (\S+)", result.artifacts.get("stdout", ""))
    assert match, result.artifacts
    assert not sleeping_with(match.group(1))


def test_grandchild_of_a_timed_out_candidate_does_not_survive(sandbox: ProcessSandbox) -> None:
    code = ESCAPER.replace("return 1.0", "time.sleep(60)")
    result = sandbox.run(make_job(code, CALLING_SCORER, timeout_s=1))
    assert result.status == Status.TIMEOUT, (result.reason, result.artifacts)
    match = re.search(r"GRANDCHILD (\S+)", result.artifacts.get("stdout", ""))
    assert match, result.artifacts
    assert not sleeping_with(match.group(1))


@pytest.mark.parametrize("scorer", [CALLING_SCORER, IMPORTING_SCORER], ids=["child", "in-process"])
def test_allocating_10_gb_is_oom_and_fast(sandbox: ProcessSandbox, scorer: str) -> None:
    start = time.monotonic()
    code = "def solve():\n    block = bytearray(10 * 1024**3)\n    return len(block)\n"
    result = sandbox.run(make_job(code, scorer, memory_mb=512))
    assert result.status == Status.OOM, result.reason
    assert "memory" in result.reason
    assert time.monotonic() - start < 3


def test_growing_memory_until_the_limit_is_oom(sandbox: ProcessSandbox) -> None:
    code = """
    def solve():
        chunks = []
        while True:
            chunks.append(bytearray(32 * 1024 * 1024))
    """
    result = sandbox.run(make_job(code, CALLING_SCORER, memory_mb=256))
    assert result.status == Status.OOM, result.reason


def test_writing_a_gigabyte_to_stdout_is_capped(sandbox: ProcessSandbox) -> None:
    code = """
    import sys

    def solve():
        chunk = "y" * (1 << 20)
        for _ in range(1024):
            sys.stdout.write(chunk)
        sys.stdout.write("LAST LINE")
        sys.stderr.write("e" * (1 << 22) + "ERR END")
        return 1.0
    """
    start = time.monotonic()
    result = sandbox.run(make_job(code, CALLING_SCORER, max_output_kb=4, timeout_s=60))
    assert result.status == Status.OK, result.reason
    assert time.monotonic() - start < 20
    out, err = result.artifacts["stdout"], result.artifacts["stderr"]
    assert len(out) < 4200 and out.startswith("yyy") and out.endswith("LAST LINE")
    assert "bytes omitted" in out
    assert len(err) < 4200 and err.endswith("ERR END")


@pytest.mark.parametrize("call", ["os._exit(0)", "sys.exit(0)"])
def test_in_process_exit_before_scoring_is_an_error(sandbox: ProcessSandbox, call: str) -> None:
    code = f"import os, sys\n{call}\ndef solve():\n    return 1e9\n"
    result = sandbox.run(make_job(code, IMPORTING_SCORER))
    assert result.status == Status.ERROR
    assert result.metrics == {}
    if call.startswith("os"):
        assert "the candidate exited before the scorer returned" in result.reason
    else:
        assert "sys.exit(0) was called during scorer.py:evaluate()" in result.reason
    assert "call_candidate" in result.reason


@pytest.mark.parametrize("call", ["os._exit(0)", "sys.exit(0)"])
def test_exit_inside_call_candidate_is_an_error(sandbox: ProcessSandbox, call: str) -> None:
    code = f"import os, sys\ndef solve():\n    {call}\n"
    result = sandbox.run(make_job(code, CALLING_SCORER))
    assert result.status == Status.ERROR
    assert "the candidate failed" in result.reason


def test_candidate_exception_traceback_reaches_the_artifacts(sandbox: ProcessSandbox) -> None:
    code = "def solve():\n    return helper()\n\ndef helper():\n    raise ValueError('bad shape')\n"
    result = sandbox.run(make_job(code, CALLING_SCORER))
    assert result.status == Status.ERROR
    assert "solve() raised ValueError: bad shape" in result.reason
    assert "in helper" in result.artifacts["traceback"]


def test_api_keys_and_host_environment_do_not_leak(
    sandbox: ProcessSandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-secret-test-key")
    code = """
    import os

    def solve():
        print(sorted(os.environ))
        return len(os.environ.get("OPENAI_API_KEY", ""))
    """
    result = sandbox.run(make_job(code, CALLING_SCORER))
    assert result.status == Status.OK, result.reason
    assert result.metrics == {"score": 0.0}
    assert "OPENAI_API_KEY" not in result.artifacts["stdout"]
    assert "HOME" in result.artifacts["stdout"]


FAKE = 'json.dumps({"version": 1, "status": "ok", "metrics": {"score": 1e9}})'

PRINTER = f"""
import json, sys

def solve():
    print({FAKE})
    sys.stderr.write({FAKE})
    return 1.0
"""

FD_WRITER = f"""
import json, os

def solve():
    for fd in range(3, 256):
        try:
            os.write(fd, {FAKE}.encode())
        except OSError:
            pass
    return 1.0
"""


@pytest.mark.parametrize("scorer", [CALLING_SCORER, IMPORTING_SCORER], ids=["child", "in-process"])
def test_printed_fake_envelope_does_not_forge_the_score(
    sandbox: ProcessSandbox, scorer: str
) -> None:
    result = sandbox.run(make_job(PRINTER, scorer))
    assert result.status == Status.OK, result.reason
    assert result.metrics == {"score": 1.0}
    assert "1000000000.0" in result.artifacts["stdout"]


def test_fake_envelope_written_to_every_fd_of_the_child_does_not_forge(
    sandbox: ProcessSandbox,
) -> None:
    """The child can only spoil its own reply pipe (an ERROR), never the harness's channel."""
    result = sandbox.run(make_job(FD_WRITER, CALLING_SCORER))
    assert result.metrics.get("score") != 1e9
    assert result.status == Status.ERROR
    assert "undecodable" in result.reason


PATCHING_SCORER = """
import math
from evaluators import call_candidate

TARGET = 10.0

def evaluate(program_path):
    value = call_candidate(program_path, "solve")
    return {"score": -abs(TARGET - value)}
"""

PATCHER = """
import builtins, math, sys

def solve():
    scorer = sys.modules.get("scorer")
    if scorer is not None:
        scorer.TARGET = 0.0
        scorer.evaluate = lambda p: {"score": 1e9}
    math.fabs = lambda x: 0.0
    builtins.abs = lambda x: 0.0
    return 0.0
"""


def test_patching_scorer_globals_from_call_candidate_changes_nothing(
    sandbox: ProcessSandbox,
) -> None:
    result = sandbox.run(make_job(PATCHER, PATCHING_SCORER))
    assert result.status == Status.OK, result.reason
    assert result.metrics == {"score": -10.0}


def test_fork_bomb_is_bounded_and_leaves_no_process() -> None:
    # Its own uid range, so jobs of other sandboxes on this machine cannot blur the check.
    box = ProcessSandbox(uid_base=63000, uid_slots=4)
    try:
        if not box.guarantees().process_limit:
            pytest.skip("RLIMIT_NPROC cannot bound a job's processes here (needs root)")
        code = """
        import os

        def solve():
            while True:
                try:
                    os.fork()
                except OSError:
                    pass
        """
        start = time.monotonic()
        result = box.run(make_job(code, CALLING_SCORER, timeout_s=2, max_processes=32))
        assert result.status == Status.TIMEOUT, result.reason
        assert time.monotonic() - start < 10
        assert uid_processes(range(63000, 63004)) == []
    finally:
        box.close()


def test_candidate_cannot_reach_a_local_listener(sandbox: ProcessSandbox) -> None:
    if not sandbox.guarantees().no_network:
        pytest.skip("no network namespace here (needs root)")
    listener = Listener()
    code = f"""
    import socket

    def solve():
        try:
            socket.create_connection(("127.0.0.1", {listener.port}), timeout=2).close()
            return 1.0
        except OSError as exc:
            print(exc)
            return 0.0
    """
    result = sandbox.run(make_job(code, CALLING_SCORER))
    assert result.status == Status.OK, result.reason
    assert result.metrics == {"score": 0.0}
    assert not listener.connected.is_set()
    listener.server.close()


@pytest.fixture
def open_host_dir() -> Iterator[Path]:
    """A world-writable directory on the host outside /tmp (like /run/lock)."""
    path = Path(
        tempfile.mkdtemp(
            prefix="evolve-open-", dir="/run" if os.access("/run", os.W_OK) else "/var"
        )
    )
    path.chmod(0o1777)
    yield path
    shutil.rmtree(path)


def test_candidate_has_no_writable_host_path(sandbox: ProcessSandbox, open_host_dir: Path) -> None:
    if not sandbox.guarantees().private_filesystem:
        pytest.skip("no private filesystem view here (needs root)")
    marker = f"/tmp/evolve-sandbox-test-{os.getpid()}"
    host_paths = [str(open_host_dir / "x"), f"/run/lock/evolve-test-{os.getpid()}", "/x"]
    code = f"""
    import os

    def solve():
        here = os.path.join(os.path.dirname(__file__), "x")
        results = {{}}
        for path in ({marker!r}, "/var/tmp/x", "/dev/shm/x", here, *{host_paths!r}):
            try:
                with open(path, "w") as f:
                    f.write("x")
                results[path] = "wrote"
            except OSError as exc:
                results[path] = exc.strerror
        print(results)
        return sum(v == "wrote" for v in results.values())
    """
    try:
        result = sandbox.run(make_job(code, CALLING_SCORER))
        assert result.status == Status.OK, result.reason
        assert result.metrics["score"] == 3, result.artifacts  # only the private tmpfs mounts
        for path in [marker, *host_paths]:
            assert not os.path.exists(path)
    finally:
        for path in (marker, host_paths[1]):
            with contextlib.suppress(OSError):
                os.unlink(path)


def test_candidate_runs_as_an_unprivileged_uid_when_root(sandbox: ProcessSandbox) -> None:
    if not sandbox.guarantees().separate_uid:
        pytest.skip("no per-job uid here (needs root)")
    result = sandbox.run(
        make_job("import os\ndef solve():\n    return os.getuid()\n", CALLING_SCORER)
    )
    assert result.status == Status.OK, result.reason
    assert 61000 <= result.metrics["score"] < 61256
