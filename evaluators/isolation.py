"""Run a candidate's function in a child process: the scorer's defence against forgery.

A scorer that imports the candidate into its own process lets it patch the
scorer's globals, replace ``math``, or call ``os._exit`` before the score is
computed. ``call_candidate`` runs ``function(*args, **kwargs)`` from the
candidate file in a child process and returns the value::

    from evaluators import call_candidate, CandidateError

    def evaluate(program_path):
        centers = call_candidate(program_path, "construct_packing", timeout_s=20)
        ...  # check and score ``centers`` here, in the scorer's own process

``candidate_session`` keeps one child for many calls (an online heuristic asked
about thousands of items, one at a time, by a simulation the scorer runs)::

    with candidate_session(program_path, timeout_s=20) as candidate:
        for item in items:
            scores = candidate.call("priority", item, capacities)

Arguments and values travel as JSON, never pickle (the scorer must not
unpickle hostile data): dicts with string keys, lists (tuples arrive as lists),
str, int, float (NaN and inf included), bool and None; numpy arrays and scalars
are sent as lists and numbers.

Failures raise a subclass of :class:`CandidateError`; a scorer may catch them
to give partial credit, or let them propagate: the harness maps
``CandidateTimeout`` to status TIMEOUT, ``CandidateOutOfMemory`` to OOM and the
others to ERROR, with the candidate's traceback in the artifacts.

In a sandbox job the child is forked from a *zygote* the harness started before
it loaded the scorer (:mod:`evaluators._zygote`): it runs as the candidate's own
uid, which cannot read the problem's scorer-only files, and it holds none of the
scorer's memory, only the call's arguments. Outside one (a scorer tested on its
own) the child is forked from the caller and shares a copy of its memory. The
child starts a new process group and dies with its parent; on timeout its whole
tree is killed (members that called ``setsid()`` too).
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import signal
import sys
import time
from collections.abc import Callable
from typing import Any

from evaluators import _candidate, _channel, _linux, _procs, _zygote

__all__ = [
    "CandidateCrashed",
    "CandidateError",
    "CandidateOutOfMemory",
    "CandidateResultError",
    "CandidateSession",
    "CandidateTimeout",
    "call_candidate",
    "candidate_session",
]

_TRACEBACK_CHARS = 8000


class CandidateError(Exception):
    """The candidate failed; ``traceback`` holds its own traceback text, if any."""

    def __init__(self, message: str, traceback: str = "") -> None:
        super().__init__(message)
        self.traceback = traceback


class CandidateTimeout(CandidateError):
    """The call did not return within ``timeout_s``; its process tree was killed."""


class CandidateCrashed(CandidateError):
    """The call raised, exited, or was killed by a signal."""


class CandidateOutOfMemory(CandidateError):
    """The call raised MemoryError (it hit the memory limit)."""


class CandidateResultError(CandidateError):
    """The value could not travel back (not JSON-able, or larger than allowed)."""


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


def start_zygote() -> None:
    """Start the clean process calls are forked from (the harness does this before
    it loads the scorer; see :mod:`evaluators._zygote`)."""
    _zygote.start(become_candidate)


def call_candidate(
    program_path: str | os.PathLike[str],
    function: str | Callable[..., Any],
    args: tuple[Any, ...] | list[Any] = (),
    kwargs: dict[str, Any] | None = None,
    *,
    timeout_s: float = 60.0,
    max_result_bytes: int = 64 * 1024 * 1024,
) -> Any:
    """Call ``function(*args, **kwargs)`` defined in ``program_path`` in a child process.

    Raises a ``CandidateError`` subclass. ``function`` may also be a function of
    the scorer's own, a *driver*: the child then loads the candidate and calls
    ``function(module, *args, **kwargs)``. The driver is rebuilt in the child
    from the source of the module that defines it (so that module must load
    without reading the scorer's data), and shares the child with the candidate:
    the scorer should check what it returns rather than trust it, and give it
    only what the candidate may see. For a simulation that must keep the future
    from the candidate (an online problem), run it in the scorer and ask the
    candidate one step at a time with :func:`candidate_session`.
    """
    path = os.fspath(program_path)
    name = _name(function)
    request: dict[str, Any] = {
        "op": "call",
        "path": path,
        "limit": max_result_bytes,
        "sys_path": list(sys.path),
        "function": function if isinstance(function, str) else None,
        "driver": None if isinstance(function, str) else _driver_spec(function),
        "args": list(args),
        "kwargs": dict(kwargs or {}),
    }
    encoded = _encode_request(request)
    read_fd, write_fd = os.pipe()
    sys.stdout.flush()
    sys.stderr.flush()
    try:
        child = _Child.start(request, encoded, [write_fd])
    except _zygote.ZygoteGone as exc:
        raise _parent_killed(name, exc) from None
    finally:
        os.close(write_fd)
    status = 0
    try:
        deadline = time.monotonic() + timeout_s
        data = _collect(child, read_fd, name, deadline, timeout_s, max_result_bytes)
    except _zygote.ZygoteGone as exc:
        raise _parent_killed(name, exc) from None
    finally:
        os.close(read_fd)
        with contextlib.suppress(OSError):  # stragglers in the child's group
            os.killpg(child.pid, signal.SIGKILL)
        status = child.wait()
    return _decode(data, status, path, name)


def _parent_killed(function: str, exc: _zygote.ZygoteGone) -> CandidateCrashed:
    how = "died"
    if exc.status is not None and os.WIFSIGNALED(exc.status):
        how = f"was killed by {_procs.signal_name(os.WTERMSIG(exc.status))}"
    return CandidateCrashed(
        f"{function}(): the process the candidate was started from {how} "
        "(a candidate that kills its parent ends its own evaluation)"
    )


class CandidateSession:
    """One child holding the candidate, answering calls until closed.

    Every call shares one deadline, ``timeout_s`` from the start of the
    session; past it the child's tree is killed and the call raises
    ``CandidateTimeout``. The candidate's module keeps its state between
    calls (it is loaded once).
    """

    def __init__(
        self, program_path: str | os.PathLike[str], timeout_s: float, max_result_bytes: int
    ) -> None:
        self.path = os.fspath(program_path)
        self.timeout_s = timeout_s
        self.deadline = time.monotonic() + timeout_s
        self._limit = max_result_bytes
        request_r, self._request_w = os.pipe()
        self._reply_r, reply_w = os.pipe()
        request: dict[str, Any] = {
            "op": "session",
            "path": self.path,
            "limit": max_result_bytes,
            "sys_path": list(sys.path),
        }
        sys.stdout.flush()
        sys.stderr.flush()
        try:
            self._child = _Child.start(request, _encode_request(request), [request_r, reply_w])
        except _zygote.ZygoteGone as exc:
            for fd in (request_r, reply_w, self._request_w, self._reply_r):
                os.close(fd)
            raise _parent_killed("loading the candidate", exc) from None
        os.close(request_r)
        os.close(reply_w)
        os.set_blocking(self._request_w, False)
        os.set_blocking(self._reply_r, False)
        self._closed = False
        self._sent: set[str] = set()  # driver modules the child already holds
        self._exchange(None, "loading the candidate")

    def call(self, function: str | Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """``function(*args, **kwargs)`` in the candidate's child; its value.

        ``function`` names a function of the candidate, or is a driver of the
        scorer's own, called as ``function(module, *args, **kwargs)`` (see
        :func:`call_candidate`); a driver's module is rebuilt in the child once,
        so its globals keep state from call to call (a simulation's own state,
        fed one step at a time).
        """
        if self._closed:
            raise CandidateCrashed(f"the session with {os.path.basename(self.path)} is closed")
        message: dict[str, Any] = {"args": list(args), "kwargs": kwargs}
        if isinstance(function, str):
            message["function"] = function
        else:
            driver = _driver_spec(
                function, with_source=function.__code__.co_filename not in self._sent
            )
            self._sent.add(driver["filename"])
            message["driver"] = driver
        return self._exchange(_encode_request(message), f"{_name(function)}()")

    def _exchange(self, request: bytes | None, what: str) -> Any:
        try:
            if request is not None:
                _write_frame(self._child, self._request_w, request, self.deadline, self.timeout_s)
            data = _read_frame(
                self._child, self._reply_r, self.deadline, self.timeout_s, self._limit
            )
        except CandidateError:
            self.close()
            raise
        except _zygote.ZygoteGone as exc:
            self.close()
            raise _parent_killed(what.rstrip("()"), exc) from None
        if data is None:  # the child is gone: say why, from its exit status
            self.close()
            return _decode(b"", self._child.status or 0, self.path, what.rstrip("()"))
        try:
            return _decode(data, 0, self.path, what.rstrip("()"))
        except CandidateError:
            self.close()
            raise

    def close(self) -> None:
        """End the child (it is killed if it does not stop at once)."""
        if self._closed:
            return
        self._closed = True
        for fd in (self._request_w, self._reply_r):
            with contextlib.suppress(OSError):
                os.close(fd)
        with contextlib.suppress(OSError):
            os.killpg(self._child.pid, signal.SIGKILL)
        self._child.wait()

    def __enter__(self) -> CandidateSession:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def candidate_session(
    program_path: str | os.PathLike[str],
    *,
    timeout_s: float = 60.0,
    max_result_bytes: int = 64 * 1024 * 1024,
) -> CandidateSession:
    """A :class:`CandidateSession` (use it as a context manager)."""
    return CandidateSession(program_path, timeout_s, max_result_bytes)


# -- the child ---------------------------------------------------------------------


class _Child:
    """A candidate's child: forked by the zygote when there is one, else by us."""

    def __init__(self, pid: int, zygote: _zygote.Client | None) -> None:
        self.pid = pid
        self.status: int | None = None
        self._zygote = zygote
        self._watch = _procs.ExitWatch(pid) if zygote is None else None

    @classmethod
    def start(cls, request: dict[str, Any], encoded: bytes, fds: list[int]) -> _Child:
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


def _name(function: str | Callable[..., Any]) -> str:
    return function if isinstance(function, str) else getattr(function, "__name__", "driver")


def _driver_spec(function: Callable[..., Any], with_source: bool = True) -> dict[str, str]:
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


def _encode_request(request: dict[str, Any]) -> bytes:
    return json.dumps(request, default=_argument, allow_nan=True).encode("utf-8")


def _collect(
    child: _Child, fd: int, function: str, deadline: float, timeout_s: float, limit: int
) -> bytes:
    """Read the child's message until it exits; kill its tree on timeout or overflow."""
    chunks: list[bytes] = []
    size = 0
    poller = select.poll()
    poller.register(fd, select.POLLIN)
    watch = child.poll_fd()
    if watch is not None:
        poller.register(watch, select.POLLIN)
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            _procs.kill_tree(child.pid)
            raise CandidateTimeout(f"{function}() did not return within {timeout_s:g} s")
        wait = remaining if watch is not None else min(remaining, 0.01)
        events = dict(poller.poll(wait * 1000))
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


def _wait_ready(child: _Child, fd: int, events: int, deadline: float, timeout_s: float) -> bool:
    """Wait until ``fd`` is ready (True) or the child has exited (False)."""
    poller = select.poll()
    poller.register(fd, events)
    watch = child.poll_fd()
    if watch is not None:
        poller.register(watch, select.POLLIN)
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            _procs.kill_tree(child.pid)
            raise CandidateTimeout(f"the candidate did not answer within {timeout_s:g} s")
        wait = remaining if watch is not None else min(remaining, 0.01)
        ready = dict(poller.poll(wait * 1000))
        if ready.get(fd, 0):
            return True
        if child.exited():
            return bool(dict(poller.poll(0)).get(fd, 0))


def _write_frame(child: _Child, fd: int, data: bytes, deadline: float, timeout_s: float) -> None:
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


def _read_frame(
    child: _Child, fd: int, deadline: float, timeout_s: float, limit: int
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


def _decode(data: bytes, status: int, path: str, function: str) -> Any:
    name = os.path.basename(path)
    if not data:
        if os.WIFSIGNALED(status):
            sig = os.WTERMSIG(status)
            if sig == signal.SIGXCPU:
                raise CandidateTimeout(f"{function}() hit the CPU time limit")
            raise CandidateCrashed(f"{function}() was killed by {_procs.signal_name(sig)}")
        code = os.WEXITSTATUS(status)
        raise CandidateCrashed(
            f"{name} exited with code {code} before {function}() returned "
            "(it called os._exit() or its process was killed)"
        )
    try:
        message = json.loads(data)
        if not isinstance(message, dict):
            raise ValueError("not an object")
    except (ValueError, RecursionError) as exc:
        raise CandidateResultError(f"{function}() sent back undecodable data ({exc})") from None
    if "value" in message:
        return message["value"]
    error = message.get("error")
    if not isinstance(error, dict):
        raise CandidateResultError(f"{function}() sent back a malformed message")
    text = str(error.get("message", ""))[:2000]
    tb = str(error.get("traceback", ""))[-_TRACEBACK_CHARS:]
    kind = error.get("kind")
    if kind == "oom":
        raise CandidateOutOfMemory(f"{function}() ran out of memory: {text}", tb)
    if kind == "result":
        raise CandidateResultError(f"{function}() returned {text}", tb)
    if kind == "missing":
        raise CandidateCrashed(text, tb)
    if kind == "exit":
        raise CandidateCrashed(f"{function}() called sys.exit({text})", tb)
    raise CandidateCrashed(f"{function}() raised {text}", tb)
