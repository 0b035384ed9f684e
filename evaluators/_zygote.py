"""A clean process to fork candidates from, so a candidate never sees the scorer's memory.

``call_candidate`` used to fork the scorer's own process: the child started with
a copy of everything the scorer had loaded (test targets, a whole instance set)
and of its stack, readable through ``sys._getframe`` or ``gc``. Now the harness
forks a *zygote* before it imports the scorer: a process holding nothing but
the harness's code, running as the candidate's uid. Each call (or session)
is a child forked from it, so it starts clean; only the call's arguments reach
it, as JSON. The zygote tells the scorer each child's pid (to kill its tree on
timeout) and, once reaped, its exit status.

Outside a sandbox job (no zygote: a scorer tested directly) ``call_candidate``
still forks the caller, with the old caveat.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import signal
import socket
import threading
from collections.abc import Callable
from typing import Any

from evaluators import _candidate, _linux, _listeners

__all__ = ["Client", "ZygoteGone", "current", "start"]

_MAX_MESSAGE = 1 << 26  # a request carries the call's arguments as JSON
_current: Client | None = None
_dumpable_children = False  # set in the zygote (see _serve)


def current() -> Client | None:
    """The zygote of this harness process, if one was started."""
    return _current


def start(become_candidate: Callable[[], None]) -> None:
    """Fork the zygote (call before the scorer loads anything)."""
    global _current
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the zygote itself, which always _exit()s
        code = 1
        try:
            ours.close()
            _serve(theirs, become_candidate)
            code = 0
        finally:
            os._exit(code)
    theirs.close()
    _current = Client(ours, pid)
    _current.wait_ready()


def _serve(sock: socket.socket, become_candidate: Callable[[], None]) -> None:
    _linux.set_parent_death_signal(signal.SIGKILL)
    global _dumpable_children
    # Where the supervisor cannot hold CAP_SYS_PTRACE (Docker) it reads a child's
    # memory as the child's own uid, which the kernel allows only if dumpable.
    with contextlib.suppress(OSError):
        _dumpable_children = not _linux.capability_bounded(_linux.CAP_SYS_PTRACE)
    become_candidate()
    _listeners.watch_candidates()  # every child forked from here is watched
    _candidate.close_all_but({sock.fileno()})
    sock.send(json.dumps({"ready": True}).encode())
    poller = select.poll()
    poller.register(sock, select.POLLIN)
    children: dict[int, int] = {}  # pidfd -> pid
    while True:
        for fd, _ in poller.poll():
            if fd == sock.fileno():
                # up to three fds: a run_program's stdin, stdout and stderr
                message, fds, _, _ = socket.recv_fds(sock, _MAX_MESSAGE, 3)
                if not message:
                    return  # the scorer is done (or gone)
                pid = _spawn(json.loads(message), fds, sock, children)
                for passed in fds:
                    os.close(passed)
                sock.send(json.dumps({"started": pid}).encode())
                try:
                    pidfd = os.pidfd_open(pid)
                except OSError:  # no pidfd: report the exit when the child is reaped
                    _, status = os.waitpid(pid, 0)
                    sock.send(json.dumps({"exited": pid, "status": status}).encode())
                    continue
                children[pidfd] = pid
                poller.register(pidfd, select.POLLIN)
            elif fd in children:
                pid = children.pop(fd)
                poller.unregister(fd)
                os.close(fd)
                _, status = os.waitpid(pid, 0)
                sock.send(json.dumps({"exited": pid, "status": status}).encode())


def _spawn(
    request: dict[str, Any], fds: list[int], sock: socket.socket, children: dict[int, int]
) -> int:
    pid = os.fork()
    if pid != 0:
        return pid
    try:  # pragma: no cover - the candidate's child, which always _exit()s
        _candidate.close_all_but(set(fds))
        os.setpgid(0, 0)
        if _dumpable_children:
            # Taking the candidate's ids made it undumpable; dumpable again, the
            # supervisor can read its memory (the path of an open) as its uid.
            # It holds only its own pipes and what the scorer sent the candidate;
            # its sibling children (the same candidate) may then open those.
            with contextlib.suppress(OSError):
                _linux.set_dumpable()
        with contextlib.suppress(OSError):
            _linux.set_parent_death_signal(signal.SIGKILL)
        if request["op"] == "exec":
            _candidate.exec_program(fds, request)
        limit = int(request["limit"])
        if request["op"] == "session":
            _candidate.serve_session(fds[0], fds[1], request["path"], limit, request["sys_path"])
        _candidate.run_call(fds[0], request["path"], request, limit)
    finally:
        os._exit(1)


class ZygoteGone(OSError):
    """The zygote died (a candidate can kill its parent); ``status`` is how."""

    def __init__(self, status: int | None) -> None:
        super().__init__("the process candidates are forked from is gone")
        self.status = status


class Client:
    """The harness's end: ask for a child, learn when it exited."""

    def __init__(self, sock: socket.socket, pid: int) -> None:
        self.sock = sock
        self.pid = pid
        self._lock = threading.Lock()
        self._exits: dict[int, int] = {}

    def wait_ready(self) -> None:
        """Wait until the zygote holds the candidate's ids and its filter (its
        listener handed to the supervisor): then the job's report covers the
        candidate's side even when the scorer never calls one. A zygote that
        died starting is reported by the first call, not here."""
        with self._lock, contextlib.suppress(ZygoteGone):
            self._receive()

    def spawn(self, request: dict[str, Any], fds: list[int]) -> int:
        """Start a child for ``request`` with ``fds`` passed to it; returns its pid."""
        with self._lock:
            try:
                socket.send_fds(self.sock, [json.dumps(request).encode()], fds)
            except OSError:
                raise self._gone() from None
            while True:
                message = self._receive()
                if "started" in message:
                    return int(message["started"])
                self._exits[int(message["exited"])] = int(message["status"])

    def poll(self) -> None:
        """Take every exit report waiting on the socket (non-blocking)."""
        with self._lock:
            while select.select([self.sock], [], [], 0)[0]:
                message = self._receive()
                self._exits[int(message["exited"])] = int(message["status"])

    def _receive(self) -> dict[str, Any]:
        try:
            data = self.sock.recv(4096)
        except OSError:
            data = b""
        if not data:
            raise self._gone()
        message: dict[str, Any] = json.loads(data)
        return message

    def _gone(self) -> ZygoteGone:
        """The zygote's end: reap it (it is our child) to say how it died."""
        for _ in range(200):
            try:
                pid, status = os.waitpid(self.pid, os.WNOHANG)
            except ChildProcessError:
                return ZygoteGone(None)
            if pid:
                return ZygoteGone(status)
            select.select([], [], [], 0.005)
        return ZygoteGone(None)

    def exit_status(self, pid: int) -> int | None:
        """``pid``'s exit status once the zygote has reported it (and forgets it)."""
        with self._lock:
            return self._exits.pop(pid, None)

    def fileno(self) -> int:
        return self.sock.fileno()
