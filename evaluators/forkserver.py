"""Fork server: one warm interpreter that forks a fresh supervisor per job.

Starting Python and importing json, ctypes and the evaluators costs more than
scoring a small candidate, so the host starts this once (stdin is a
``SOCK_SEQPACKET`` control socket) and sends one message per job: the spec
(JSON) plus, as ``SCM_RIGHTS``, the write end of a reply socket. The server
forks; the child starts a new session, writes ``b"<pid>\\n"`` then one
envelope to the reply socket (see :mod:`evaluators.supervisor`), and exits.
The server itself runs no job code and exits when the control socket closes.

A spec with ``"mode": "probe"`` gets :func:`evaluators.supervisor.probe`'s
JSON instead of an envelope. ``spec["env"]`` replaces the environment and
``spec["job_dir"]`` becomes the cwd, so nothing of one job carries to the next.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import sys
from collections.abc import Callable
from typing import Any

from evaluators import _linux, envelope, supervisor
from evaluators.contract import Status

__all__ = ["JobRunner", "main", "run_spec", "serve"]

_MAX_SPEC_BYTES = 1 << 20

JobRunner = Callable[[dict[str, Any]], bytes]


def run_spec(spec: dict[str, Any]) -> bytes:
    """The reply bytes for one job spec (a probe or a supervised job)."""
    if spec.get("mode") == "probe":
        return json.dumps(supervisor.probe(spec)).encode()
    return envelope.encode_envelope(supervisor.run_job(spec))


def _serve_one(message: bytes, reply: int, run: JobRunner) -> None:
    """In the forked child: run one job and send its result. Never returns."""
    try:
        os.setsid()
        os.write(reply, f"{os.getpid()}\n".encode())
        spec = json.loads(message)
        os.environ.clear()
        os.environ.update(spec.get("env", {}))
        os.chdir(spec["job_dir"])
        data = run(spec)
    except BaseException as exc:
        text = f"the sandbox supervisor failed: {type(exc).__name__}: {exc}"
        data = envelope.encode_envelope(envelope.make_envelope(Status.ERROR, text))
    with contextlib.suppress(OSError):
        while data:
            data = data[os.write(reply, data) :]
    os._exit(0)


def serve(control: socket.socket, run: JobRunner = run_spec) -> None:
    """Serve jobs from ``control`` until it closes: one forked child per job."""
    _linux.load()
    supervisor.warm()
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # job supervisors are reaped by the kernel
    while True:
        try:
            message, fds, flags, _ = socket.recv_fds(control, _MAX_SPEC_BYTES, 1)
        except OSError:
            break
        if not message and not fds:
            break  # the host closed the control socket
        if not fds:
            continue
        reply = fds[0]
        if flags & socket.MSG_TRUNC or not message:
            os.close(reply)
            continue
        try:
            pid = os.fork()
        except OSError:  # the host sees the reply socket close empty: an ERROR for that job
            pid = -1
        if pid == 0:
            control.close()
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)
            _serve_one(message, reply, run)
        os.close(reply)


def main() -> None:
    """Serve jobs from the control socket on stdin until it closes."""
    if sys.path and sys.path[0] in ("", "."):
        del sys.path[0]
    control = socket.socket(fileno=os.dup(0))
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    serve(control)
    os._exit(0)
