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
import os
import signal
import sys
import time
from collections.abc import Callable
from typing import Any

from evaluators import _procs, _zygote
from evaluators._child import (
    Child,
    become_candidate,
    collect,
    driver_spec,
    encode_request,
    name_of,
    read_frame,
    write_frame,
)
from evaluators._failures import (
    CandidateCrashed,
    CandidateError,
    CandidateOutOfMemory,
    CandidateResultError,
    CandidateTimeout,
    decode,
)

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
    name = name_of(function)
    request: dict[str, Any] = {
        "op": "call",
        "path": path,
        "limit": max_result_bytes,
        "sys_path": list(sys.path),
        "function": function if isinstance(function, str) else None,
        "driver": None if isinstance(function, str) else driver_spec(function),
        "args": list(args),
        "kwargs": dict(kwargs or {}),
    }
    encoded = encode_request(request)
    read_fd, write_fd = os.pipe()
    sys.stdout.flush()
    sys.stderr.flush()
    try:
        child = Child.start(request, encoded, [write_fd])
    except _zygote.ZygoteGone as exc:
        raise _parent_killed(name, exc) from None
    finally:
        os.close(write_fd)
    status = 0
    try:
        deadline = time.monotonic() + timeout_s
        data = collect(child, read_fd, name, deadline, timeout_s, max_result_bytes)
    except _zygote.ZygoteGone as exc:
        raise _parent_killed(name, exc) from None
    finally:
        os.close(read_fd)
        with contextlib.suppress(OSError):  # stragglers in the child's group
            os.killpg(child.pid, signal.SIGKILL)
        status = child.wait()
    return decode(data, status, path, name)


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
            self._child = Child.start(request, encode_request(request), [request_r, reply_w])
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
            driver = driver_spec(
                function, with_source=function.__code__.co_filename not in self._sent
            )
            self._sent.add(driver["filename"])
            message["driver"] = driver
        return self._exchange(encode_request(message), f"{name_of(function)}()")

    def _exchange(self, request: bytes | None, what: str) -> Any:
        try:
            if request is not None:
                write_frame(self._child, self._request_w, request, self.deadline, self.timeout_s)
            data = read_frame(
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
            return decode(b"", self._child.status or 0, self.path, what.rstrip("()"))
        try:
            return decode(data, 0, self.path, what.rstrip("()"))
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
