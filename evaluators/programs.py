"""Run an executable as the candidate: a compiler on the candidate's source, or
the program it built.

``call_candidate`` runs a Python function of the candidate in a child process;
``run_program`` runs any command the same way: forked from the same clean
process (the zygote, inside a sandbox job), with the candidate's ids, limits
and syscall filter, in its own process group, killed with every process it
started when it is done or past its deadline. What it prints is bounded: past
``max_output_bytes`` on either stream it is killed and the result says so, so
a flood costs the scorer nothing. For scorers::

    from evaluators import run_program

    built = run_program(["g++", "-O2", "-x", "c++", program_path, "-o", "solver"],
                        timeout_s=60)
    if built.returncode != 0:
        return {"metrics": {"score": 0.0}, "artifacts": {"build": built.stderr_text()}}
    run = run_program(["./solver"], input=b"3 1 2\\n", timeout_s=5)
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import time
from dataclasses import dataclass

from evaluators import _procs, _zygote
from evaluators._child import Child, encode_request
from evaluators._failures import CandidateCrashed, CandidateTimeout

__all__ = ["ProgramResult", "run_program"]

DEFAULT_PATH = "/usr/local/bin:/usr/bin:/bin"


@dataclass(frozen=True)
class ProgramResult:
    """How a command ended: its exit code (negative: killed by that signal, as
    ``subprocess`` reports it), what it printed (each stream cut at the limit),
    and whether it was cut (the command was then killed)."""

    returncode: int
    stdout: bytes
    stderr: bytes
    truncated: bool = False

    def stdout_text(self) -> str:
        return self.stdout.decode("utf-8", "replace")

    def stderr_text(self) -> str:
        return self.stderr.decode("utf-8", "replace")


def run_program(
    argv: list[str],
    *,
    input: bytes = b"",
    timeout_s: float = 60.0,
    max_output_bytes: int = 1 << 20,
    cwd: str | None = None,
    env: dict[str, str] | None = None,
) -> ProgramResult:
    """Run ``argv`` as the candidate, feeding it ``input``; raises
    ``CandidateTimeout`` past ``timeout_s`` (its whole process tree killed). The
    environment is ``env`` or a minimal one (``PATH``, ``HOME``, ``LANG``), never
    the scorer's: nothing of the scorer's leaks through it."""
    if not argv:
        raise ValueError("run_program needs a command: argv must not be empty")
    environment = env if env is not None else _minimal_env()
    request = {"op": "exec", "argv": list(argv), "cwd": cwd, "env": environment, "limit": 0}
    stdin_r, stdin_w = os.pipe()
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    try:
        child = Child.start(request, encode_request(request), [stdin_r, out_w, err_w])
    except _zygote.ZygoteGone:
        for fd in (stdin_r, stdin_w, out_r, out_w, err_r, err_w):
            os.close(fd)
        raise CandidateCrashed(
            f"{argv[0]}: the process candidates are forked from is gone"
        ) from None
    for fd in (stdin_r, out_w, err_w):
        os.close(fd)
    closed: set[int] = set()  # of ours, the fds already closed (never close one twice)
    try:
        out, err, truncated = _exchange(
            child,
            argv[0],
            input,
            (stdin_w, out_r, err_r),
            closed,
            (time.monotonic() + timeout_s, timeout_s),
            max_output_bytes,
        )
    finally:
        for fd in {stdin_w, out_r, err_r} - closed:
            with contextlib.suppress(OSError):
                os.close(fd)
        with contextlib.suppress(OSError):
            os.killpg(child.pid, signal.SIGKILL)
        status = child.wait()
    return ProgramResult(os.waitstatus_to_exitcode(status), out, err, truncated)


def _minimal_env() -> dict[str, str]:
    return {"PATH": os.environ.get("PATH", DEFAULT_PATH), "HOME": "/tmp", "LANG": "C.UTF-8"}


def _exchange(
    child: Child,
    name: str,
    data: bytes,
    fds: tuple[int, int, int],
    closed: set[int],
    timing: tuple[float, float],
    limit: int,
) -> tuple[bytes, bytes, bool]:
    """Write ``data`` to its stdin and read both streams until they close or the
    child exits; a stream past ``limit`` ends it (truncated). ``timing``: the
    deadline and the timeout it came from."""
    stdin_w, out_r, err_r = fds
    deadline, timeout_s = timing
    outputs: dict[int, bytearray] = {out_r: bytearray(), err_r: bytearray()}
    poller = select.poll()
    for fd in (out_r, err_r):
        poller.register(fd, select.POLLIN)
    pending = memoryview(data)
    if pending:
        os.set_blocking(stdin_w, False)
        poller.register(stdin_w, select.POLLOUT)
    else:
        os.close(stdin_w)
        closed.add(stdin_w)
    open_fds = {out_r, err_r} | ({stdin_w} if pending else set())
    watch = child.poll_fd()
    if watch is not None:
        poller.register(watch, select.POLLIN)
    while {out_r, err_r} & open_fds:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            _procs.kill_tree(child.pid)
            raise CandidateTimeout(f"{name} did not finish within {timeout_s:g} s")
        wait = remaining if watch is not None else min(remaining, 0.01)
        for fd, events in poller.poll(wait * 1000):
            if fd == stdin_w and fd in open_fds:
                try:
                    pending = pending[os.write(fd, pending) :]
                except (BrokenPipeError, BlockingIOError):
                    pending = pending[:0] if events & select.POLLERR else pending
                if not pending or events & (select.POLLERR | select.POLLHUP):
                    poller.unregister(fd)
                    open_fds.discard(fd)
                    os.close(fd)
                    closed.add(fd)
            elif fd in outputs and fd in open_fds:
                chunk = os.read(fd, 1 << 16)
                if not chunk:
                    poller.unregister(fd)
                    open_fds.discard(fd)
                    continue
                outputs[fd] += chunk
                if len(outputs[fd]) > limit:
                    _procs.kill_tree(child.pid)
                    return bytes(outputs[out_r][:limit]), bytes(outputs[err_r][:limit]), True
        if watch is not None and child.exited() and not dict(poller.poll(0)):
            break
    return bytes(outputs[out_r]), bytes(outputs[err_r]), False
