"""Run a candidate's function in a child process: the scorer's defence against forgery.

A scorer that imports the candidate into its own process lets it patch the
scorer's globals, replace ``math``, or call ``os._exit`` before the score is
computed. ``call_candidate`` forks a child, runs ``function(*args, **kwargs)``
from the candidate file there, and returns the value::

    from evaluators import call_candidate, CandidateError

    def evaluate(program_path):
        centers = call_candidate(program_path, "construct_packing", timeout_s=20)
        ...  # check and score ``centers`` here, in the scorer's own process

Values come back as JSON, never pickle (the scorer must not unpickle hostile
data): dicts with string keys, lists (tuples arrive as lists), str, int, float
(NaN and inf included), bool and None. numpy arrays and scalars are converted
with ``tolist()``/``item()`` in the child when the candidate uses numpy.

Failures raise a subclass of :class:`CandidateError`; a scorer may catch them
to give partial credit, or let them propagate: the harness maps
``CandidateTimeout`` to status TIMEOUT, ``CandidateOutOfMemory`` to OOM and the
others to ERROR, with the candidate's traceback in the artifacts.

The child starts a new process group, dies with its parent, closes the
harness's result channel and every other inherited fd, and (in a sandbox)
takes the candidate's own uid, which cannot read the problem's scorer-only
files, before the candidate's module is even loaded. On timeout its whole
tree is killed (members that called ``setsid()`` too).
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import select
import signal
import sys
import time
import traceback
from collections.abc import Callable
from typing import Any

from evaluators import _channel, _linux, _procs

__all__ = [
    "CandidateCrashed",
    "CandidateError",
    "CandidateOutOfMemory",
    "CandidateResultError",
    "CandidateTimeout",
    "call_candidate",
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

    ``args``/``kwargs`` reach the child by fork, so any Python object works;
    only the return value is serialised. Raises a ``CandidateError`` subclass.

    ``function`` may also be a callable of the scorer's own, a *driver*: the
    child then loads the candidate and calls ``function(module, *args,
    **kwargs)``. That is for scorers that call the candidate many times (an
    online heuristic's priority function over thousands of items) without a
    process per call. The driver shares the child with the candidate, so the
    scorer should check what it returns (e.g. replay the decisions) rather than
    trust it.
    """
    path = os.fspath(program_path)
    read_fd, write_fd = os.pipe()
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the child, which always _exit()s
        os.close(read_fd)
        _child(write_fd, path, function, tuple(args), dict(kwargs or {}), max_result_bytes)
    os.close(write_fd)
    status = 0
    try:
        data = _collect(pid, read_fd, _name(function), timeout_s, max_result_bytes)
    finally:
        os.close(read_fd)
        with contextlib.suppress(OSError):  # stragglers in the child's group
            os.killpg(pid, signal.SIGKILL)
        with contextlib.suppress(ChildProcessError):
            _, status = os.waitpid(pid, 0)
    return _decode(data, status, path, _name(function))


def _name(function: str | Callable[..., Any]) -> str:
    return function if isinstance(function, str) else getattr(function, "__name__", "driver")


def _collect(pid: int, fd: int, function: str, timeout_s: float, limit: int) -> bytes:
    """Read the child's message until it exits; kill its tree on timeout or overflow."""
    deadline = time.monotonic() + timeout_s
    chunks: list[bytes] = []
    size = 0
    with _procs.ExitWatch(pid) as watch:
        poller = select.poll()
        poller.register(fd, select.POLLIN)
        if watch.fd is not None:
            poller.register(watch.fd, select.POLLIN)
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                _procs.kill_tree(pid)
                raise CandidateTimeout(f"{function}() did not return within {timeout_s:g} s")
            wait = remaining if watch.fd is not None else min(remaining, 0.01)
            events = dict(poller.poll(wait * 1000))
            if events.get(fd, 0) & (select.POLLIN | select.POLLHUP | select.POLLERR):
                chunk = os.read(fd, 1 << 20)
                if not chunk:
                    poller.unregister(fd)  # writer closed: wait for the exit itself
                    continue
                chunks.append(chunk)
                size += len(chunk)
                if size > limit + 4096:
                    _procs.kill_tree(pid)
                    raise CandidateResultError(f"{function}() returned more than {limit} bytes")
                continue
            if watch.exited():
                _drain_nonblocking(fd, chunks)
                return b"".join(chunks)


def _drain_nonblocking(fd: int, chunks: list[bytes]) -> None:
    """What the exited child left in the pipe (a grandchild may hold it open)."""
    os.set_blocking(fd, False)
    with contextlib.suppress(BlockingIOError):
        while chunk := os.read(fd, 1 << 20):
            chunks.append(chunk)


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


def _jsonable(value: Any) -> Any:
    """numpy arrays and scalars as plain Python values (numpy is never imported here)."""
    if type(value).__module__.split(".")[0] == "numpy" and hasattr(value, "tolist"):
        return value.tolist()
    raise TypeError(f"a {type(value).__name__} cannot travel back as JSON")


def _child(
    fd: int,
    path: str,
    function: str | Callable[..., Any],
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    limit: int,
) -> None:
    """Child side: isolate, load the candidate, call it, send one JSON message, _exit."""
    reserve = bytearray(1 << 18)  # freed on MemoryError so the report can be built
    try:
        _channel.close_in_child()
        os.setpgid(0, 0)
        with contextlib.suppress(OSError):
            _linux.set_parent_death_signal(signal.SIGKILL)
        os.closerange(3, fd)
        os.closerange(fd + 1, 1 << 16)
        _become_candidate()
        message = _run(path, function, args, kwargs, limit)
    except MemoryError:
        del reserve
        message = json.dumps({"error": {"kind": "oom", "message": "MemoryError"}})
    except BaseException as exc:  # the harness must always hear back
        message = _error_message(exc)
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except BaseException:
        pass
    data = message.encode("utf-8", "replace")
    with contextlib.suppress(OSError):
        while data:
            data = data[os.write(fd, data) :]
    os._exit(0)


def _become_candidate() -> None:
    """Take the candidate's ids, before its code loads.

    In a sandbox the harness opens files as the job's uid (its effective id)
    while its real and saved ids are the candidate's; taking the real id for all
    three needs no privilege, and afterwards the candidate cannot read the
    scorer-only files of the job (nor switch back). Outside a sandbox (one id)
    nothing changes.
    """
    ruid, euid, _ = os.getresuid()
    if ruid != euid:
        rgid, _, _ = os.getresgid()
        os.setresgid(rgid, rgid, rgid)
        os.setresuid(ruid, ruid, ruid)


def _run(
    path: str,
    function: str | Callable[..., Any],
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    limit: int,
) -> str:
    try:
        spec = importlib.util.spec_from_file_location("__candidate__", path)
        if spec is None or spec.loader is None:
            raise ImportError(f"cannot load {path}")
        module = importlib.util.module_from_spec(spec)
        sys.modules["__candidate__"] = module
        spec.loader.exec_module(module)
        if callable(function):
            value = function(module, *args, **kwargs)
        else:
            target = getattr(module, function, None)
            if not callable(target):
                name = os.path.basename(path)
                message = f"{name} defines no function {function}(); the scorer calls it"
                return json.dumps({"error": {"kind": "missing", "message": message}})
            value = target(*args, **kwargs)
        try:
            text = json.dumps({"value": value}, default=_jsonable, allow_nan=True)
        except (TypeError, ValueError, RecursionError) as exc:
            return json.dumps(
                {"error": {"kind": "result", "message": f"an unsendable value: {exc}"}}
            )
        if len(text) > limit:
            msg = f"{len(text)} bytes of JSON, more than the {limit} allowed"
            return json.dumps({"error": {"kind": "result", "message": msg}})
        return text
    except MemoryError:
        raise
    except SystemExit as exc:
        return json.dumps({"error": {"kind": "exit", "message": repr(exc.code)[:200]}})


def _error_message(exc: BaseException) -> str:
    try:
        tb = "".join(traceback.format_exception(exc))[-_TRACEBACK_CHARS:]
        text = f"{type(exc).__name__}: {str(exc)[:2000]}"
    except BaseException:  # a hostile __str__ must not silence the report
        tb, text = "", type(exc).__name__
    return json.dumps({"error": {"kind": "exception", "message": text, "traceback": tb}})
