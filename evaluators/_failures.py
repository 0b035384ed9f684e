"""What a candidate's child can end in, seen from the scorer: the exception tree of
``call_candidate`` and ``candidate_session``, and the decoding of a child's
message (or of its exit status when it sent none) into a value or one of them.
"""

from __future__ import annotations

import json
import os
import signal
from typing import Any

from evaluators import _procs

__all__ = [
    "CandidateCrashed",
    "CandidateError",
    "CandidateOutOfMemory",
    "CandidateResultError",
    "CandidateTimeout",
    "decode",
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


def decode(data: bytes, status: int, path: str, function: str) -> Any:
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
