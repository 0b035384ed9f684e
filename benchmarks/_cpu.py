"""CPU accounting for the side-by-side benchmarks (Linux /proc and cgroups):
a process's and its main thread's CPU, the machine's, a cpuacct cgroup that
counts a whole process tree, and a /proc sampler where no such cgroup can be
made. ``run_measured`` runs a command under both and reads the process's own
CPU after it exits and before it is reaped (see ``vs_openevolve.py``)."""

from __future__ import annotations

import contextlib
import os
import subprocess
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

CLK_TCK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
CPUACCT = Path("/sys/fs/cgroup/cpuacct")


def proc_cpu(pid: int) -> tuple[float, float]:
    """(user, system) CPU seconds of a live or exited-but-unreaped process, all
    its threads (/proc/PID/stat; its reaped children are not included)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) / CLK_TCK, int(fields[12]) / CLK_TCK


def proc_cpu_s(pid: int) -> float:
    return sum(proc_cpu(pid))


def main_thread_cpu_s(pid: int) -> float:
    """The CPU of ``pid``'s main thread alone (/proc/PID/task/PID/stat): evolve's
    event loop (controller and LLM client), without its evaluation threads."""
    fields = Path(f"/proc/{pid}/task/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def machine_cpu_s() -> tuple[float, float]:
    """(busy, stolen) CPU seconds of the CPUs this process may run on, since boot."""
    mine = {f"cpu{n}" for n in os.sched_getaffinity(0)}
    busy = steal = 0
    for line in Path("/proc/stat").read_text().splitlines():
        name, *values = line.split()
        if name in mine:
            user, nice, system, _idle, _iowait, irq, softirq, stolen = map(int, values[:8])
            busy += user + nice + system + irq + softirq
            steal += stolen
    return busy / CLK_TCK, steal / CLK_TCK


def own_cpu_s() -> float:
    """This benchmark process's CPU (its sampling and log-reading threads)."""
    return time.process_time()


class CpuAcct:
    """A cgroup v1 cpuacct group: the CPU of every process started in it and of
    all their descendants, however they are reaped."""

    def __init__(self, path: Path) -> None:
        self.path = path

    @classmethod
    def create(cls, name: str) -> CpuAcct | None:
        """A new group, or None where this host does not allow one (not root, no v1)."""
        path = CPUACCT / name
        try:
            path.mkdir()
        except OSError:
            return None
        if not (path / "cpuacct.usage").is_file():
            with contextlib.suppress(OSError):
                path.rmdir()
            return None
        return cls(path)

    @property
    def procs(self) -> Path:
        return self.path / "cgroup.procs"

    def _seconds(self, name: str) -> float:
        return int((self.path / name).read_text()) / 1e9

    def usage(self) -> tuple[float, float]:
        """(all, system) CPU seconds of the group so far."""
        return self._seconds("cpuacct.usage"), self._seconds("cpuacct.usage_sys")

    def close(self, timeout_s: float = 5.0) -> tuple[float, float]:
        """The group's CPU once its last process is gone; removes the group."""
        deadline = time.monotonic() + timeout_s
        while self.procs.read_text().strip() and time.monotonic() < deadline:
            time.sleep(0.02)
        usage = self.usage()
        with contextlib.suppress(OSError):
            self.path.rmdir()
        return usage


class TreeSampler:
    """Where no cpuacct group exists: the CPU of ``root``'s descendants, from
    /proc every 50 ms (a lower bound: processes shorter-lived than that, and
    the last 50 ms of each, are missed)."""

    def __init__(self, root: int) -> None:
        self.root = root
        self._seen: dict[tuple[int, str], tuple[float, float]] = {}  # (pid, start) -> CPU
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            self._sample()
            self._stop.wait(0.05)

    def _sample(self) -> None:
        parents: dict[int, tuple[int, str, tuple[float, float]]] = {}
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            cpu = (int(fields[11]) / CLK_TCK, int(fields[12]) / CLK_TCK)
            parents[int(entry.name)] = (int(fields[1]), fields[19], cpu)
        tree = {self.root}
        grew = True
        while grew:
            grew = False
            for pid, (ppid, _, _) in parents.items():
                if ppid in tree and pid not in tree:
                    tree.add(pid)
                    grew = True
        for pid in tree - {self.root}:
            _, started, cpu = parents[pid]
            key = (pid, started)
            self._seen[key] = max(self._seen.get(key, (0.0, 0.0)), cpu, key=sum)

    def close(self) -> tuple[float, float]:
        """(all, system) CPU seconds of the descendants seen."""
        self._stop.set()
        self._thread.join()
        return sum(map(sum, self._seen.values())), sum(s for _, s in self._seen.values())


@dataclass(frozen=True)
class Measured:
    """One command's wall time and CPU: its own process, and its whole tree."""

    wall_s: float
    self_s: float  # the process itself, all threads
    main_thread_s: float  # of which its main thread
    tree_s: float  # it and every descendant (cpuacct), or self + sampled descendants
    self_sys_s: float  # of which in the kernel
    tree_sys_s: float
    rusage_s: float  # wait4: it and the descendants whose CPU reached it by reaping
    method: str  # "cpuacct" or "sampled"
    stdout: str
    stderr: str

    @property
    def descendants_s(self) -> float:
        return self.tree_s - self.self_s

    @property
    def descendants_sys_share(self) -> float:
        """The share of the descendants' CPU spent in the kernel."""
        return (self.tree_sys_s - self.self_sys_s) / max(self.descendants_s, 1e-9)


def run_measured(command: Sequence[str], cwd: Path | None = None, name: str = "run") -> Measured:
    """Run ``command`` (raising on failure) and account for its CPU (see the docstring)."""
    group = CpuAcct.create(f"evolve-bench-{os.getpid()}-{name}")
    argv = list(command)
    if group is not None:  # the shell joins the group, then becomes the command (same pid)
        argv = ["sh", "-c", 'echo $$ > "$0" && exec "$@"', str(group.procs), *argv]
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        started = time.perf_counter()
        proc = subprocess.Popen(argv, stdout=out, stderr=err, cwd=cwd, text=True)
        sampler = TreeSampler(proc.pid) if group is None else None
        try:
            os.waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOWAIT)  # exited, not reaped
            self_user, self_sys = proc_cpu(proc.pid)
            main_thread = main_thread_cpu_s(proc.pid)
        finally:
            _, status, usage = os.wait4(proc.pid, 0)
            proc.returncode = os.waitstatus_to_exitcode(status)
        wall = time.perf_counter() - started
        self_s = self_user + self_sys
        if group is not None:
            (tree, tree_sys), method = group.close(), "cpuacct"
        else:
            assert sampler is not None
            below, below_sys = sampler.close()
            tree, tree_sys, method = self_s + below, self_sys + below_sys, "sampled"
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
    if proc.returncode != 0:
        raise RuntimeError(f"{command[0]} failed ({proc.returncode}): {stderr[-2000:]}")
    rusage = usage.ru_utime + usage.ru_stime
    tree, tree_sys = max(tree, self_s), max(tree_sys, self_sys)
    return Measured(
        wall, self_s, main_thread, tree, self_sys, tree_sys, rusage, method, stdout, stderr
    )
