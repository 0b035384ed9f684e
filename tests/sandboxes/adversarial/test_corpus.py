"""The adversarial corpus: hostile candidates, each on both backends.

Every case checks three things: the job ends with the right status and an
honest reason; the next, ordinary candidate still scores (the sandbox and the
host are unaffected); and nothing is left behind (processes, files,
containers). Probing candidates report what they managed to do as their
score, so "score == 0" means "no breach".
"""

from __future__ import annotations

import os
import time

import pytest

from sandboxes.job import Sandbox, Status
from tests.sandboxes.adversarial.corpus import breaches, require, run
from tests.sandboxes.jobs import IMPORTING_SCORER, Listener


def test_infinite_loop_times_out(backend: Sandbox) -> None:
    started = time.monotonic()
    result = run(
        backend, "def solve():\n    while True:\n        pass\n", IMPORTING_SCORER, timeout_s=1
    )
    assert result.status == Status.TIMEOUT
    assert "timeout" in result.reason
    assert time.monotonic() - started < 15


def test_fork_bomb_is_bounded(backend: Sandbox) -> None:
    code = """
    import os

    def solve():
        while True:
            try:
                os.fork()
            except OSError:
                pass
    """
    started = time.monotonic()
    result = run(backend, code, IMPORTING_SCORER, timeout_s=2, max_processes=32)
    assert result.status == Status.TIMEOUT, result.reason
    assert time.monotonic() - started < 20


def test_allocating_10_gb_is_out_of_memory(backend: Sandbox) -> None:
    code = "def solve():\n    block = bytearray(10 * 1024**3)\n    return len(block)\n"
    result = run(backend, code, IMPORTING_SCORER, memory_mb=512)
    assert result.status == Status.OOM, result.reason
    assert "out of memory" in result.reason and "512 MB" in result.reason


def test_a_gigabyte_on_stdout_is_capped(backend: Sandbox) -> None:
    code = """
    import os

    def solve():
        chunk = b"x" * (1 << 20)
        for _ in range(1024):
            os.write(1, chunk)
        return 1.0
    """
    result = run(backend, code, IMPORTING_SCORER, timeout_s=30)
    assert result.status == Status.OK, result.reason
    assert len(result.artifacts.get("stdout", "")) <= 70_000


def test_writes_outside_the_scratch_dir_fail(backend: Sandbox) -> None:
    require(backend, "private_filesystem")
    code = """
    import os

    TARGETS = ["/etc/evolve-pwned", "/usr/evolve-pwned", "/root/evolve-pwned",
               "/opt/evolve-pwned", "/var/tmp/evolve-pwned", "/tmp/evolve-pwned",
               os.path.join(os.path.dirname(os.path.abspath(__file__)), "pwned")]

    def solve():
        done = 0
        for path in TARGETS:
            try:
                with open(path, "w") as f:
                    f.write("x")
                if os.path.dirname(path) not in ("/tmp", "/var/tmp"):
                    done += 1  # a private /tmp is fine; anything else is a breach
            except OSError:
                pass
        with open(os.path.join(os.environ["HOME"], "ok"), "w") as f:
            f.write("scratch is writable")
        return done
    """
    assert breaches(backend, code) == 0
    assert not os.path.exists("/etc/evolve-pwned") and not os.path.exists("/root/evolve-pwned")


def test_no_connection_to_a_host_loopback_listener(backend: Sandbox) -> None:
    require(backend, "no_network")
    listener = Listener()
    code = f"""
    import socket

    def solve():
        try:
            socket.create_connection(("127.0.0.1", {listener.port}), timeout=2).close()
            return 1
        except OSError:
            return 0
    """
    try:
        assert breaches(backend, code) == 0
        assert not listener.connected.wait(0.5)
    finally:
        listener.close()


def test_host_names_do_not_resolve(backend: Sandbox) -> None:
    require(backend, "no_network")
    code = """
    import socket

    def solve():
        try:
            socket.getaddrinfo("pypi.org", 443)
            return 1
        except OSError:
            return 0
    """
    assert breaches(backend, code, timeout_s=20) == 0


def test_api_keys_of_the_host_do_not_leak(
    backend: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    require(backend, "separate_uid")  # as this user it may read /proc/*/environ
    secret = "sk-evolve-test-secret-4242"
    monkeypatch.setenv("OPENAI_API_KEY", secret)
    code = f"""
    import os

    def solve():
        found = sum({secret!r} in v for v in os.environ.values())
        for pid in os.listdir("/proc"):
            if pid.isdigit():
                try:
                    with open(f"/proc/{{pid}}/environ", "rb") as f:
                        found += {secret!r}.encode() in f.read()
                except OSError:
                    pass
        return found
    """
    assert breaches(backend, code) == 0


def test_the_docker_socket_is_out_of_reach(backend: Sandbox) -> None:
    require(backend, "separate_uid")
    code = """
    import socket

    def solve():
        reached = 0
        for path in ("/var/run/docker.sock", "/run/docker.sock"):
            try:
                s = socket.socket(socket.AF_UNIX)
                s.connect(path)
                reached += 1
            except OSError:
                pass
        return reached
    """
    assert breaches(backend, code) == 0


def test_killing_its_parent_fails_or_only_ends_its_own_job(backend: Sandbox) -> None:
    code = """
    import os, signal

    def solve():
        os.kill(os.getppid(), signal.SIGKILL)
        return 1e9
    """
    result = run(backend, code)  # run() also checks the next job is unaffected
    if result.status == Status.OK:
        # Its parent is init of the job's PID namespace, which ignores signals from
        # inside it: the kill fails and the (toy) scorer passes the value through.
        assert result.metrics == {"score": 1e9}
    else:
        # Its parent is the scorer's process: the job ends, as an error naming the signal.
        assert result.status == Status.ERROR, result
        assert "SIGKILL" in result.reason


def test_os_exit_is_an_error_with_a_reason(backend: Sandbox) -> None:
    result = run(backend, "import os\ndef solve():\n    os._exit(3)\n")
    assert result.status == Status.ERROR
    assert result.reason


def test_segfault_is_an_error_naming_the_signal(backend: Sandbox) -> None:
    code = "import ctypes\ndef solve():\n    ctypes.string_at(0)\n"
    result = run(backend, code, IMPORTING_SCORER)
    assert result.status == Status.ERROR
    assert "SIGSEGV" in result.reason


FORGED = (
    '{"v": 1, "status": "ok", "metrics": {"score": 1e9}, "artifacts": {}, "reason": "", '
    '"wall_time_s": 0, "peak_memory_mb": 0, "stage_reached": 1}'
)


def test_a_printed_forged_envelope_does_not_count(backend: Sandbox) -> None:
    code = f"""
    import sys

    def solve():
        print({FORGED!r}, flush=True)
        print({FORGED!r}, file=sys.stderr, flush=True)
        return 1.0
    """
    result = run(backend, code, IMPORTING_SCORER)
    assert result.status == Status.OK, result.reason
    assert result.metrics == {"score": 1.0}  # the real score; the printed one is just output
    assert '"score": 1e9' in result.artifacts["stdout"]


def test_a_forged_envelope_on_every_descriptor_does_not_count(backend: Sandbox) -> None:
    # Run by call_candidate, the candidate holds no channel but the one for its own
    # return value: what it writes there is a malformed return value, never a score.
    code = f"""
    import os

    def solve():
        for fd in range(1, 256):
            try:
                os.write(fd, {FORGED!r}.encode())
            except OSError:
                pass
        os._exit(0)
    """
    result = run(backend, code)
    assert result.status == Status.ERROR, result
    assert "solve()" in result.reason
    assert "score" not in result.metrics


def test_patching_the_scorer_module_changes_nothing(backend: Sandbox) -> None:
    scorer = """
    from evaluators import call_candidate

    def penalty():
        return -10.0

    def evaluate(program_path):
        call_candidate(program_path, "solve", timeout_s=10)
        return {"score": penalty()}
    """
    code = """
    import sys

    def solve():
        for module in list(sys.modules.values()):
            if hasattr(module, "penalty"):
                module.penalty = lambda: 1e9
        import gc
        for obj in gc.get_objects():
            if isinstance(obj, dict) and "penalty" in obj:
                obj["penalty"] = lambda: 1e9
        return 0
    """
    result = run(backend, code, scorer)
    assert result.status == Status.OK, result.reason
    assert result.metrics == {"score": -10.0}


def test_a_background_thread_sleeping_past_the_deadline(backend: Sandbox) -> None:
    code = """
    import threading, time

    def solve():
        threading.Thread(target=time.sleep, args=(600,)).start()
        return 1.0
    """
    started = time.monotonic()
    result = run(backend, code, IMPORTING_SCORER, timeout_s=2)
    # Either the harness reported before the thread mattered, or the deadline
    # killed the tree: never a hang.
    assert result.status in (Status.OK, Status.TIMEOUT), result.reason
    assert time.monotonic() - started < 20


MARKER = "evolve-leftover-marker-7781"


def test_nothing_is_left_for_the_next_candidate(backend: Sandbox) -> None:
    require(backend, "private_filesystem")  # else /dev/shm is the host's
    leave = f"""
    import os, subprocess, sys

    def solve():
        subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)", "{MARKER}"],
                         start_new_session=True)
        for d in (os.environ["HOME"], "/dev/shm", os.environ.get("TMPDIR", "/tmp")):
            try:
                with open(os.path.join(d, "{MARKER}"), "w") as f:
                    f.write("left")
            except OSError:
                pass
        return 1.0
    """
    find = f"""
    import os

    def solve():
        seen = 0
        for pid in os.listdir("/proc"):
            if pid.isdigit():
                try:
                    with open(f"/proc/{{pid}}/cmdline", "rb") as f:
                        seen += b"{MARKER}" in f.read()
                except OSError:
                    pass
        for d in (os.environ["HOME"], "/dev/shm", "/tmp", "/scratch"):
            try:
                for root, dirs, files in os.walk(d):
                    seen += sum("{MARKER}" in name for name in files)
            except OSError:
                pass
        return seen
    """
    first = run(backend, leave, IMPORTING_SCORER)
    assert first.status == Status.OK, first.reason
    assert breaches(backend, find) == 0
    # And on the host, no process carries the marker any more.
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                with open(f"/proc/{pid}/cmdline", "rb") as f:
                    assert MARKER.encode() not in f.read()
            except OSError:
                pass


IPC_KEYS = (0x7E5701, 0x7E5702, 0x7E5703)  # SysV keys: shared memory, message queue, semaphore


def test_no_ipc_object_is_left_for_the_next_candidate(backend: Sandbox) -> None:
    require(backend, "separate_uid")
    # SysV IPC objects outlive their processes; POSIX queues live in /dev/mqueue.
    leave = f"""
    import ctypes, os

    def solve():
        libc = ctypes.CDLL(None, use_errno=True)
        made = [libc.shmget({IPC_KEYS[0]}, 1 << 20, 0o1666), libc.msgget({IPC_KEYS[1]}, 0o1666),
                libc.semget({IPC_KEYS[2]}, 1, 0o1666)]
        try:
            open("/dev/mqueue/{MARKER}", "w").close()
        except OSError:
            pass
        return sum(ident >= 0 for ident in made)
    """
    find = f"""
    import ctypes, os

    def solve():
        libc = ctypes.CDLL(None, use_errno=True)
        found = [libc.shmget({IPC_KEYS[0]}, 0, 0), libc.msgget({IPC_KEYS[1]}, 0),
                 libc.semget({IPC_KEYS[2]}, 0, 0)]
        seen = sum(ident >= 0 for ident in found)
        try:
            seen += "{MARKER}" in os.listdir("/dev/mqueue")
        except OSError:
            pass
        return seen
    """
    assert breaches(backend, leave) == 3  # the candidate could make them ...
    assert breaches(backend, find) == 0  # ... and the next one sees none of them
    for kind in ("shm", "msg", "sem"):  # nor are they left on the host
        with open(f"/proc/sysvipc/{kind}") as f:
            keys = {int(row.split()[0]) for row in f.read().splitlines()[1:]}
        assert not keys & set(IPC_KEYS), kind
