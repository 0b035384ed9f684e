"""What behaviour monitoring costs (evaluators._monitor), side by side in one run.

Two measurements:

1. *Per watched syscall*: a child process under the candidate filter opens a
   file N times while this process answers its notifications as the supervisor
   does; beside it, the same opens unfiltered. Reports the median of 5 rounds:
   microseconds per open, watched and plain, and the supervisor's own share.
2. *Per evaluation*, in the process sandbox: the same jobs with monitoring on
   (the default) and off (``spec["monitor"] = false``: the plain seccomp
   filter, no listener), interleaved. A trivial candidate scored in-process,
   and a candidate that imports numpy called ``--calls`` times through
   ``call_candidate`` (every call a fresh process that opens ~100 files).

    .venv/bin/python benchmarks/monitoring.py [--opens 2000] [--jobs 15] [--calls 10]

Needs root (the per-job uids) for part 2; part 1 runs anywhere seccomp does.
"""

from __future__ import annotations

import argparse
import os
import select
import socket
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.sandbox import SCORER as IN_PROCESS  # imports the candidate in-process
from evaluators import _linux, _listeners, _monitor
from sandboxes.job import EvalJob, Limits, Status
from sandboxes.process import ProcessSandbox

CALLING = """
from evaluators import call_candidate

def evaluate(program_path):
    return {"score": sum(call_candidate(program_path, "solve") for _ in range(CALLS))}
"""
TRIVIAL = "def solve():\n    return 1.0\n"
NUMPY = "import numpy\n\ndef solve():\n    return float(numpy.arange(4).sum())\n"


def watched_opens(n: int) -> tuple[float, float, float]:
    """(us per watched open, us per plain open, supervisor us per open)."""
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    monitor = _monitor.Monitor(ours.detach(), None, "/tmp")
    report_r, report_w = os.pipe()
    pid = os.fork()
    if pid == 0:  # the watched process
        _linux.set_no_new_privs()
        _listeners.set_channel(theirs.fileno())
        _listeners.watch_candidates()
        started = time.perf_counter()
        for _ in range(n):
            os.close(os.open("/etc/hostname", os.O_RDONLY))
        os.write(report_w, repr(time.perf_counter() - started).encode())
        os._exit(0)
    theirs.close()
    os.close(report_w)
    busy = 0.0
    poller = select.poll()
    for fd in monitor.fds():
        poller.register(fd, select.POLLIN)
    while not os.waitpid(pid, os.WNOHANG)[0]:
        for fd, _ in poller.poll(100):
            started = time.perf_counter()
            monitor.serve(fd, poller)
            busy += time.perf_counter() - started
    watched = float(os.read(report_r, 100))
    os.close(report_r)
    monitor.close()
    started = time.perf_counter()
    for _ in range(n):
        os.close(os.open("/etc/hostname", os.O_RDONLY))
    plain = time.perf_counter() - started
    return watched / n * 1e6, plain / n * 1e6, busy / n * 1e6


class UnmonitoredSandbox(ProcessSandbox):
    """The process sandbox with the plain filter: no listener, no report."""

    def _spec(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
        return {**super()._spec(*args, **kwargs), "monitor": False}


def job(code: str, scorer: bytes) -> EvalJob:
    return EvalJob(
        program_id="bench",
        code=code,
        files={"scorer.py": scorer},
        scorer="scorer.py",
        limits=Limits(timeout_s=60),
    )


def timed(box: ProcessSandbox, evaluation: EvalJob) -> float:
    started = time.perf_counter()
    result = box.run(evaluation)
    assert result.status == Status.OK, result.reason
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--opens", type=int, default=2000)
    parser.add_argument("--jobs", type=int, default=15)
    parser.add_argument("--calls", type=int, default=10)
    args = parser.parse_args()

    rounds = [watched_opens(args.opens) for _ in range(5)]
    watched, plain, busy = (statistics.median(r[i] for r in rounds) for i in range(3))
    print(f"## Per watched syscall ({args.opens} opens, median of 5 rounds)\n")
    print("| open | us per call | supervisor us per call |")
    print("|---|---:|---:|")
    print(f"| plain (unfiltered) | {plain:.1f} | - |")
    print(f"| watched (candidate filter) | {watched:.1f} | {busy:.1f} |")
    print(f"\nextra per watched syscall: {watched - plain:.1f} us\n")

    if os.geteuid() != 0:
        print("(part 2 needs root for the per-job uids: skipped)")
        return
    calling = CALLING.replace("CALLS", str(args.calls)).encode()
    cases = {
        "trivial candidate, in the scorer's process": job(TRIVIAL, IN_PROCESS),
        f"numpy candidate, {args.calls} call_candidate calls": job(NUMPY, calling),
    }
    boxes = {
        "on": ProcessSandbox(uid_base=64000, uid_slots=8),
        "off": UnmonitoredSandbox(uid_base=64100, uid_slots=8),
    }
    try:
        times: dict[tuple[str, str], list[float]] = {}
        for name, evaluation in cases.items():
            for box in boxes.values():
                timed(box, evaluation)  # warm
            for _ in range(args.jobs):
                for mode, box in boxes.items():  # interleaved
                    times.setdefault((name, mode), []).append(timed(box, evaluation))
    finally:
        for box in boxes.values():
            box.close()
    print(f"## Per evaluation, process sandbox (median of {args.jobs}, interleaved)\n")
    print("| job | monitoring off, ms | monitoring on, ms | extra, ms | ratio |")
    print("|---|---:|---:|---:|---:|")
    for name in cases:
        off = statistics.median(times[(name, "off")]) * 1e3
        on = statistics.median(times[(name, "on")]) * 1e3
        print(f"| {name} | {off:.1f} | {on:.1f} | {on - off:+.1f} | {on / off:.2f} |")


if __name__ == "__main__":
    main()
