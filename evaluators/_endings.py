"""How a job that sent no envelope ended, and which failures are memory.

The memory limit is an address-space limit (``RLIMIT_AS``) in the process
sandbox, so a library that reserves address space up front (JAX, XLA, torch,
LLVM) fails long before its resident size is near the limit: its allocator
throws ``std::bad_alloc`` and the process aborts or segfaults, or a call fails
with ``ENOMEM``. Those are the limit at work, so they are ``oom`` (with the
key that raises it), not an ``error`` blamed on the code.
"""

from __future__ import annotations

import os
import re
import signal
from typing import Any

from evaluators import _procs
from evaluators.contract import Status

__all__ = ["EXIT_HINT", "allocation_failure", "memory_advice", "no_result"]

EXIT_HINT = (
    "the scorer imports the candidate into its own process, so the candidate can end it; "
    "run the candidate with evaluators.call_candidate to keep the scorer in control"
)
_OOM_FRACTION = 0.85  # of the limit: a process killed above it is taken as out of memory
_CRASH_SIGNALS = (signal.SIGKILL, signal.SIGSEGV, signal.SIGBUS, signal.SIGABRT)
# What allocators and runtimes print or raise when an allocation is refused.
_ALLOCATION_FAILURE = re.compile(
    r"std::bad_alloc|St9bad_alloc|Cannot allocate memory|out of memory|"
    r"failed to allocate|unable to allocate|RESOURCE_EXHAUSTED|mmap\(\) failed|"
    r"MemoryError",
    re.IGNORECASE,
)


def allocation_failure(text: str) -> str | None:
    """The phrase in ``text`` that says an allocation was refused, if any."""
    found = _ALLOCATION_FAILURE.search(text or "")
    return found.group(0) if found else None


def memory_advice(memory_mb: int) -> str:
    """Where the limit comes from and how to raise it (for a reason text)."""
    limit = f"the limit is {memory_mb} MB of address space" if memory_mb else "the memory limit"
    return f"{limit}: raise it with [resources] memory_mb in problem.toml or --memory-mb"


def no_result(
    status: int, timed_out: bool, limits: dict[str, Any], peak_mb: float, err: str
) -> tuple[Status, str]:
    """Status and reason when the harness sent no envelope (``status``: its wait
    status; ``err``: the job's stderr)."""
    if timed_out:
        return Status.TIMEOUT, (
            f"the evaluation did not finish within its {float(limits['timeout_s']):g} s "
            "timeout; its whole process tree was killed"
        )
    last = next((line for line in reversed(err.splitlines()) if line.strip()), "")
    detail = f" (last stderr line: {last.strip()[:300]})" if last else ""
    memory_mb = int(limits["resources"]["memory_mb"])
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        name = _procs.signal_name(sig)
        if sig == signal.SIGXCPU:
            return Status.TIMEOUT, "the evaluation used up its CPU time limit and was killed"
        if sig in _CRASH_SIGNALS and peak_mb >= _OOM_FRACTION * memory_mb:
            return Status.OOM, (
                f"the evaluation was killed by {name} at {peak_mb:.0f} MB, near its "
                f"{memory_mb} MB memory limit"
            )
        if sig in _CRASH_SIGNALS and (phrase := allocation_failure(err)):
            return Status.OOM, (
                f"the evaluation crashed ({name}) when an allocation was refused ({phrase}); "
                + memory_advice(memory_mb)
            )
        reason = f"the harness process was killed by {name}{detail}"
        if sig != signal.SIGKILL and sig in _CRASH_SIGNALS:  # a native library may crash so
            reason += (
                "; a library that reserves address space up front (JAX, torch) crashes like "
                f"this under the limit: {memory_advice(memory_mb)}"
            )
        return Status.ERROR, reason
    code = os.WEXITSTATUS(status)
    if code == 0:
        return Status.ERROR, (
            "the candidate exited before the scorer returned (the harness ended with code 0 "
            f"and sent no result); {EXIT_HINT}"
        )
    if phrase := allocation_failure(err):
        return Status.OOM, (
            f"the harness exited with code {code} when an allocation was refused ({phrase}); "
            + memory_advice(memory_mb)
        )
    return Status.ERROR, f"the harness exited with code {code} without a result{detail}"
