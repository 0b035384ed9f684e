"""Job builders and stock scorers shared by the sandbox tests."""

from __future__ import annotations

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
