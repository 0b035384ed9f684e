"""Job builders and stock scorers shared by the sandbox tests."""

from __future__ import annotations

import platform
import socket
import textwrap
import threading

from sandboxes.job import EvalJob, Limits, Resources, Stage

CALLING_SCORER = """
from evaluators import call_candidate

def evaluate(program_path):
    return {"score": float(call_candidate(program_path, "solve", timeout_s=30))}
"""
"""A scorer that runs ``solve()`` of the candidate in a child process."""

IMPORTING_SCORER = """
import importlib.util

def evaluate(program_path):
    spec = importlib.util.spec_from_file_location("candidate", program_path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return {"score": float(module.solve())}
"""
"""An OpenEvolve-style scorer that imports the candidate into its own process."""


PTRACE = {"x86_64": 101, "aarch64": 117}.get(platform.machine())
"""ptrace's syscall number here (None: an architecture the probes do not know)."""

# Gives the candidate the path of a scorer-only file, as if it had found it.
POINTING_SCORER = """
import os
from evaluators import call_candidate

def evaluate(program_path):
    secret = os.path.join(os.path.dirname(os.path.abspath(__file__)), "secret.csv")
    return {"score": float(call_candidate(program_path, "solve", args=(secret,), timeout_s=30))}
"""

PROBING = f"""
import ctypes, os, socket
libc = ctypes.CDLL(None, use_errno=True)

def solve(secret):
    reached = 0
    try:
        socket.create_connection(("10.1.2.3", 80), timeout=1)
        reached += 1
    except OSError:
        pass
    try:
        open("/etc/evolve-probe", "w").close()
        reached += 1
    except OSError:
        pass
    try:
        open(secret).read()
        reached += 1
    except OSError:
        pass
    reached += libc.syscall({PTRACE}, 16, os.getppid(), 0, 0) == 0  # PTRACE_ATTACH
    reached += libc.unshare(0x10000000) == 0  # CLONE_NEWUSER
    return reached
"""
"""Tries the network, a write outside its scratch, the scorer's data, ptrace and
a user namespace; returns how many got through (0 in a sandbox)."""


def make_job(
    code: str,
    scorer: str = CALLING_SCORER,
    *,
    scorer_name: str = "scorer.py",
    stages: tuple[Stage, ...] = (Stage("evaluate"),),
    maximize: bool = True,
    files: dict[str, bytes] | None = None,
    **limits: float,
) -> EvalJob:
    """A job for ``code`` scored by ``scorer`` (both dedented), default limits overridable."""
    return EvalJob(
        program_id="test",
        code=textwrap.dedent(code),
        files={scorer_name: textwrap.dedent(scorer).encode(), **(files or {})},
        scorer=scorer_name,
        stages=stages,
        maximize=maximize,
        limits=limits_of(**limits),
    )


def limits_of(timeout_s: float = 10.0, **resources: float) -> Limits:
    """Limits with a test's overrides: ``timeout_s`` and any ``Resources`` field."""
    return Limits(timeout_s=timeout_s, resources=Resources(**resources))  # type: ignore[arg-type]


class Listener:
    """A TCP listener on the host's 127.0.0.1 that records whether anyone connected."""

    def __init__(self) -> None:
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.connected = threading.Event()
        self.server.settimeout(10)
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        try:
            conn, _ = self.server.accept()
            self.connected.set()
            conn.close()
        except OSError:
            pass

    def close(self) -> None:
        self.server.close()
