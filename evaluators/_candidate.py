"""The candidate's side of ``call_candidate`` and ``candidate_session``: load the
candidate's module, call its functions, send JSON back.

This runs in the child that holds the candidate, never in the scorer's
process. Messages are JSON (never pickle), framed by a 4-byte length when a
session sends several over one pipe.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import struct
import sys
import traceback
from types import ModuleType
from typing import Any

__all__ = [
    "close_all_but",
    "exec_program",
    "load",
    "read_frame",
    "run_call",
    "serve_session",
    "write_all",
    "write_frame",
]

_TRACEBACK_CHARS = 8000
_FRAME = struct.Struct(">I")


def write_all(fd: int, data: bytes) -> None:
    while data:
        data = data[os.write(fd, data) :]


def write_frame(fd: int, data: bytes) -> None:
    write_all(fd, _FRAME.pack(len(data)) + data)


_pending = b""  # bytes read past the last frame (a session's requests come in order)


def read_frame(fd: int, limit: int) -> bytes | None:
    """One frame from ``fd`` (blocking); None at end of file or when over ``limit``.
    Reads in large chunks: a request usually arrives whole, in one read."""
    global _pending
    buffer = _pending
    while len(buffer) < _FRAME.size or len(buffer) < _FRAME.size + _FRAME.unpack_from(buffer)[0]:
        if len(buffer) >= _FRAME.size and _FRAME.unpack_from(buffer)[0] > limit:
            return None
        chunk = os.read(fd, 1 << 16)
        if not chunk:
            return None
        buffer += chunk
    end = _FRAME.size + _FRAME.unpack_from(buffer)[0]
    _pending = buffer[end:]
    return buffer[_FRAME.size : end]


def load(path: str) -> ModuleType:
    """The candidate's module, loaded from ``path`` as ``__candidate__``."""
    spec = importlib.util.spec_from_file_location("__candidate__", path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules["__candidate__"] = module
    spec.loader.exec_module(module)
    return module


def _jsonable(value: Any) -> Any:
    """numpy arrays and scalars as plain Python values (numpy is never imported here)."""
    if type(value).__module__.split(".")[0] == "numpy" and hasattr(value, "tolist"):
        return value.tolist()
    raise TypeError(f"a {type(value).__name__} cannot travel back as JSON")


def _error(kind: str, message: str, tb: str = "") -> str:
    return json.dumps({"error": {"kind": kind, "message": message, "traceback": tb}})


def _exception_message(exc: BaseException) -> str:
    try:
        tb = "".join(traceback.format_exception(exc))[-_TRACEBACK_CHARS:]
        text = f"{type(exc).__name__}: {str(exc)[:2000]}"
    except BaseException:  # a hostile __str__ must not silence the report
        tb, text = "", type(exc).__name__
    return _error("exception", text, tb)


_driver_modules: dict[str, dict[str, Any]] = {}  # filename -> namespace, once per child


def _driver(spec: dict[str, Any]) -> Any:
    """A scorer's driver function, rebuilt (once per child) from the source of the
    module it was defined in; a session sends that source with its first call."""
    namespace = _driver_modules.get(spec["filename"])
    if namespace is None:
        namespace = {"__name__": "__scorer_driver__", "__file__": spec["filename"]}
        exec(compile(spec["source"], spec["filename"], "exec"), namespace)
        _driver_modules[spec["filename"]] = namespace
    target: Any = namespace
    for part in spec["qualname"].split("."):
        target = target[part] if isinstance(target, dict) else getattr(target, part)
    return target


def call(module: ModuleType, request: dict[str, Any], limit: int) -> str:
    """Call what ``request`` names on ``module``; the JSON message to send back."""
    path = getattr(module, "__file__", "") or ""
    try:
        args, kwargs = request.get("args", []), request.get("kwargs", {})
        if request.get("driver") is not None:
            value = _driver(request["driver"])(module, *args, **kwargs)
        else:
            target = getattr(module, request["function"], None)
            if not callable(target):
                name = os.path.basename(path)
                message = f"{name} defines no function {request['function']}(); the scorer calls it"
                return _error("missing", message)
            value = target(*args, **kwargs)
        try:
            text = json.dumps({"value": value}, default=_jsonable, allow_nan=True)
        except (TypeError, ValueError, RecursionError) as exc:
            return _error("result", f"an unsendable value: {exc}")
        if len(text) > limit:
            return _error("result", f"{len(text)} bytes of JSON, more than the {limit} allowed")
        return text
    except MemoryError:
        return _error("oom", "MemoryError")
    except SystemExit as exc:
        return _error("exit", repr(exc.code)[:200])
    except BaseException as exc:
        return _exception_message(exc)


def _flush() -> None:
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(BaseException):
            stream.flush()


def close_all_but(keep: set[int]) -> None:
    """Close every fd from 3 on but ``keep``."""
    start = 3
    for fd in sorted(k for k in keep if k >= 3):
        os.closerange(start, fd)
        start = fd + 1
    os.closerange(start, 1 << 16)


def searchable(sys_path: list[str]) -> list[str]:
    """The scorer's import path less the folders this process may not search
    (the scorer-only ones): every import would try to list them, be refused,
    and be reported as a candidate reading what it may not (evaluators._monitor)."""
    return [p for p in sys_path if not p or os.access(p, os.R_OK | os.X_OK) or not os.path.isdir(p)]


def run_call(fd: int, path: str, request: dict[str, Any], limit: int) -> None:
    """Load the candidate, make one call, write the message to ``fd``. Never returns."""
    reserve = bytearray(1 << 18)  # freed on MemoryError so the report can be built
    sys.path[:] = searchable(request.get("sys_path", sys.path))
    try:
        message = call(load(path), request, limit)
    except MemoryError:
        del reserve
        message = _error("oom", "MemoryError")
    except SystemExit as exc:
        message = _error("exit", repr(exc.code)[:200])
    except BaseException as exc:  # the scorer must always hear back
        message = _exception_message(exc)
    _flush()
    with contextlib.suppress(OSError):
        write_all(fd, message.encode("utf-8", "replace"))
    os._exit(0)


def serve_session(
    request_fd: int, reply_fd: int, path: str, limit: int, sys_path: list[str]
) -> None:
    """Load the candidate once, then answer one framed request after another until
    the scorer closes its end. Never returns."""
    reserve = bytearray(1 << 18)
    sys.path[:] = searchable(sys_path)
    try:
        module: ModuleType | None = load(path)
        loaded = json.dumps({"value": None})
    except MemoryError:
        del reserve
        module, loaded = None, _error("oom", "MemoryError")
    except SystemExit as exc:
        module, loaded = None, _error("exit", repr(exc.code)[:200])
    except BaseException as exc:
        module, loaded = None, _exception_message(exc)
    _flush()
    with contextlib.suppress(OSError):
        write_frame(reply_fd, loaded.encode("utf-8", "replace"))
        while module is not None:
            data = read_frame(request_fd, 1 << 30)
            if data is None:
                break
            message = call(module, json.loads(data), limit)
            _flush()
            write_frame(reply_fd, message.encode("utf-8", "replace"))
    os._exit(0)


def exec_program(fds: list[int], request: dict[str, Any]) -> None:
    """Become ``request["argv"]`` with ``fds`` (stdin, stdout, stderr) as its
    standard streams, in ``request["cwd"]``. Never returns: on failure the reason
    goes to its stderr and it exits 127, as a shell's "command not found"."""
    try:
        for target, fd in enumerate(fds[:3]):
            os.dup2(fd, target)
        for fd in set(fds[:3]):
            if fd > 2:
                os.close(fd)
        cwd = request.get("cwd")
        if cwd:
            os.chdir(cwd)
        argv = [str(a) for a in request["argv"]]
        os.execvpe(argv[0], argv, {str(k): str(v) for k, v in request["env"].items()})
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.write(2, f"cannot run {request.get('argv', ['?'])[0]!r}: {exc}\n".encode())
    os._exit(127)
