"""The scorer's side of a candidate's child: start it (from the zygote, or by a
fork of the caller outside a sandbox job), send it a request, collect its reply
under a deadline, learn how it exited. Public API: :mod:`evaluators.isolation`.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import signal
import time
from collections.abc import Callable
from typing import Any

from evaluators import _candidate, _channel, _linux, _procs, _zygote
from evaluators._failures import CandidateResultError, CandidateTimeout

__all__ = [
    "Child",
    "become_candidate",
    "collect",
    "driver_spec",
    "encode_request",
    "name_of",
    "read_frame",
    "write_frame",
]


def become_candidate() -> None:
    """Take the candidate's ids, before any of its code loads.

    In a sandbox the harness opens files as the job's uid (its effective id)
    while its real and saved ids are the candidate's; taking the real id for all
    three needs no privilege, and afterwards the process cannot read the
    scorer-only files of the job (nor switch back). Outside a sandbox (one id)
    nothing changes.
    """
    ruid, euid, _ = os.getresuid()
    if ruid != euid:
        rgid, _, _ = os.getresgid()
        os.setresgid(rgid, rgid, rgid)
        os.setresuid(ruid, ruid, ruid)


class Child:
    """A candidate's child: forked by the zygote when there is one, else by us."""

    def __init__(self, pid: int, zygote: _zygote.Client | None) -> None:
        self.pid = pid
        self.status: int | None = None
        self._zygote = zygote
        self._watch = _procs.ExitWatch(pid) if zygote is None else None

    @classmethod
    def start(cls, request: dict[str, Any], encoded: bytes, fds: list[int]) -> Child:
        zygote = _zygote.current()
        if zygote is not None:
            return cls(zygote.spawn(json.loads(encoded), fds), zygote)
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the child, which always _exit()s
            try:
                _channel.close_in_child()
                os.setpgid(0, 0)
                with contextlib.suppress(OSError):
                    _linux.set_parent_death_signal(signal.SIGKILL)
                _candidate.close_all_but(set(fds))
                become_candidate()
                if request["op"] == "exec":
                    _candidate.exec_program(fds, request)
                if request["op"] == "session":
                    _candidate.serve_session(
                        fds[0], fds[1], request["path"], request["limit"], request["sys_path"]
                    )
                _candidate.run_call(fds[0], request["path"], json.loads(encoded), request["limit"])
            finally:
                os._exit(1)
        return cls(pid, None)

    def poll_fd(self) -> int | None:
        """An fd that becomes readable when the child may have exited."""
        return self._zygote.fileno() if self._zygote is not None else self._watch_fd()

    def _watch_fd(self) -> int | None:
        return self._watch.fd if self._watch is not None else None

    def exited(self) -> bool:
        if self.status is not None:
            return True
        if self._zygote is not None:
            self._zygote.poll()
            self.status = self._zygote.exit_status(self.pid)
            return self.status is not None
        assert self._watch is not None
        return self._watch.exited()

    def wait(self) -> int:
        """Its exit status (reaping it, or hearing from the zygote; a child whose
        zygote died died with it, by SIGKILL)."""
        if self._zygote is not None:
            try:
                while not self.exited():
                    select.select([self._zygote.fileno()], [], [], 1.0)
            except _zygote.ZygoteGone:
                self.status = signal.SIGKILL
            assert self.status is not None
            return self.status
        if self.status is None:
            try:
                _, self.status = os.waitpid(self.pid, 0)
            except ChildProcessError:
                self.status = 0
        if self._watch is not None:
            self._watch.__exit__()
        return self.status


def name_of(function: str | Callable[..., Any]) -> str:
    return function if isinstance(function, str) else getattr(function, "__name__", "driver")


def driver_spec(function: Callable[..., Any], with_source: bool = True) -> dict[str, str]:
    """Where the child rebuilds a driver from: its module's source and its name."""
    filename = function.__code__.co_filename
    spec = {"filename": filename, "qualname": function.__qualname__}
    if with_source:
        with open(filename, encoding="utf-8") as f:
            spec["source"] = f.read()
    return spec


def _argument(value: Any) -> Any:
    if type(value).__module__.split(".")[0] == "numpy" and hasattr(value, "tolist"):
        return value.tolist()
    raise TypeError(
        f"call_candidate: a {type(value).__name__} argument cannot travel to the candidate "
        "as JSON; pass lists, dicts, numbers, strings, booleans or None (numpy arrays work)"
    )


def encode_request(request: dict[str, Any]) -> bytes:
    return json.dumps(request, default=_argument, allow_nan=True).encode("utf-8")


def collect(
    child: Child, fd: int, function: str, deadline: float, timeout_s: float, limit: int
) -> bytes:
    """Read the child's message until it exits; kill its tree on timeout or overflow."""
    chunks: list[bytes] = []
    size = 0
    poller, watch = _poller(child, fd, select.POLLIN)
    while True:
        late = f"{function}() did not return within {timeout_s:g} s"
        events = _poll(child, poller, watch, deadline, late)
        if events.get(fd, 0) & (select.POLLIN | select.POLLHUP | select.POLLERR):
            chunk = os.read(fd, 1 << 20)
            if not chunk:
                poller.unregister(fd)  # writer closed: wait for the exit itself
                continue
            chunks.append(chunk)
            size += len(chunk)
            if size > limit + 4096:
                _procs.kill_tree(child.pid)
                raise CandidateResultError(f"{function}() returned more than {limit} bytes")
            continue
        if child.exited():
            _drain_nonblocking(fd, chunks)
            return b"".join(chunks)


def _drain_nonblocking(fd: int, chunks: list[bytes]) -> None:
    """What the exited child left in the pipe (a grandchild may hold it open)."""
    os.set_blocking(fd, False)
    with contextlib.suppress(BlockingIOError):
        while chunk := os.read(fd, 1 << 20):
            chunks.append(chunk)


def _poller(child: Child, fd: int, events: int) -> tuple[select.poll, int | None]:
    """A poll set on ``fd`` and on what tells that the child exited (if anything does)."""
    poller = select.poll()
    poller.register(fd, events)
    watch = child.poll_fd()
    if watch is not None:
        poller.register(watch, select.POLLIN)
    return poller, watch


def _poll(
    child: Child, poller: select.poll, watch: int | None, deadline: float, late: str
) -> dict[int, int]:
    """One wait on ``poller``, bounded by ``deadline``: past it the child's tree is
    killed and ``CandidateTimeout(late)`` raised. Without an exit fd to watch, waits
    are short so the caller can check the child itself."""
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        _procs.kill_tree(child.pid)
        raise CandidateTimeout(late)
    wait = remaining if watch is not None else min(remaining, 0.01)
    return dict(poller.poll(wait * 1000))


def _wait_ready(child: Child, fd: int, events: int, deadline: float, timeout_s: float) -> bool:
    """Wait until ``fd`` is ready (True) or the child has exited (False)."""
    poller, watch = _poller(child, fd, events)
    while True:
        late = f"the candidate did not answer within {timeout_s:g} s"
        ready = _poll(child, poller, watch, deadline, late)
        if ready.get(fd, 0):
            return True
        if child.exited():
            return bool(dict(poller.poll(0)).get(fd, 0))


def write_frame(child: Child, fd: int, data: bytes, deadline: float, timeout_s: float) -> None:
    """Write one frame to the non-blocking ``fd``, waiting for room only when full."""
    payload = len(data).to_bytes(4, "big") + data
    while payload:
        try:
            payload = payload[os.write(fd, payload) :]
            continue
        except BlockingIOError:
            pass
        except BrokenPipeError:
            return  # the child is gone; the read that follows says why
        if not _wait_ready(child, fd, select.POLLOUT, deadline, timeout_s):
            return


def read_frame(
    child: Child, fd: int, deadline: float, timeout_s: float, limit: int
) -> bytes | None:
    """One framed reply from the non-blocking ``fd``, or None if the child exited
    without one."""
    buffer = b""
    needed = 4
    while True:
        while len(buffer) < needed:
            try:
                chunk = os.read(fd, max(needed - len(buffer), 1 << 16))
            except BlockingIOError:
                if not _wait_ready(child, fd, select.POLLIN, deadline, timeout_s):
                    return None
                continue
            if not chunk:
                return None
            buffer += chunk
        if needed == 4:
            size = int.from_bytes(buffer[:4], "big")
            if size > limit + 4096:
                _procs.kill_tree(child.pid)
                raise CandidateResultError(f"the candidate returned more than {limit} bytes")
            needed = 4 + size
            continue
        return buffer[4:needed]
