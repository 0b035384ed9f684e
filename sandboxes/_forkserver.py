"""Host-side client of :mod:`evaluators.forkserver`: start it, submit jobs, read replies.

One server per sandbox, started lazily and restarted if it dies. Each job gets
its own socketpair, so threads never share a reply stream; only the send on
the control socket is serialised.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["ForkServer", "Reply"]

_BOOT = "from evaluators.forkserver import main; main()"


@dataclass(frozen=True)
class Reply:
    pid: int | None  # the job's supervisor (a session leader), once it announced itself
    data: bytes  # what followed the pid line
    timed_out: bool  # the outer deadline passed before the reply ended
    overflow: bool  # more than the allowed bytes arrived


class ForkServer:
    """A warm ``evaluators.forkserver`` process with ``env`` and ``log_path`` for its stderr."""

    def __init__(self, env: dict[str, str], log_path: str) -> None:
        self._env = env
        self._log_path = log_path
        self._lock = threading.Lock()
        self._proc: subprocess.Popen[bytes] | None = None
        self._control: socket.socket | None = None

    def _start(self) -> None:
        host_end, server_end = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        with open(self._log_path, "ab") as log:
            self._proc = subprocess.Popen(
                [sys.executable, "-S", "-s", "-B", "-c", _BOOT],
                stdin=server_end.fileno(),
                stdout=subprocess.DEVNULL,
                stderr=log,
                env=self._env,
                start_new_session=True,
            )
        server_end.close()
        self._control = host_end

    def submit(self, spec: bytes) -> socket.socket:
        """Send a job; returns the socket its reply will arrive on."""
        mine, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            with self._lock:
                for attempt in range(2):
                    if self._control is None or (self._proc and self._proc.poll() is not None):
                        self._stop()
                        self._start()
                    assert self._control is not None
                    try:
                        socket.send_fds(self._control, [spec], [theirs.fileno()])
                        break
                    except OSError:
                        self._stop()
                        if attempt:
                            raise
        finally:
            theirs.close()
        return mine

    @staticmethod
    def read_reply(
        sock: socket.socket,
        timeout_s: float,
        limit: int,
        on_pid: Callable[[int], None] | None = None,
    ) -> Reply:
        """Read ``<pid>\\n<data>`` until EOF, the deadline, or ``limit`` bytes.

        ``on_pid`` hears the supervisor's pid as soon as it is announced, so a
        caller can kill it while it runs.
        """
        deadline = time.monotonic() + timeout_s
        buf = bytearray()
        timed_out = overflow = False
        announced = False
        with sock:
            while True:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    timed_out = True
                    break
                sock.settimeout(remaining)
                try:
                    chunk = sock.recv(1 << 20)
                except TimeoutError:
                    timed_out = True
                    break
                if not chunk:
                    break
                buf += chunk
                if not announced and b"\n" in buf:
                    announced = True
                    head = bytes(buf.partition(b"\n")[0])
                    if on_pid is not None and head.isdigit():
                        on_pid(int(head))
                if len(buf) > limit + 32:
                    overflow = True
                    break
        head, newline, rest = bytes(buf).partition(b"\n")
        pid = int(head) if newline and head.isdigit() else None
        return Reply(pid, rest if newline else b"", timed_out, overflow)

    @staticmethod
    def kill_job(pid: int) -> None:
        """SIGKILL a job's supervisor session (its harness dies by parent-death signal)."""
        with contextlib.suppress(OSError):
            os.killpg(pid, signal.SIGKILL)

    def _stop(self) -> None:
        if self._control is not None:
            self._control.close()
            self._control = None
        if self._proc is not None:
            with contextlib.suppress(OSError):
                os.killpg(self._proc.pid, signal.SIGKILL)
            self._proc.wait()
            self._proc = None

    def close(self) -> None:
        with self._lock:
            self._stop()
