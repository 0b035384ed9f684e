"""Per-job supervisor: isolate, fork the harness, enforce limits, kill the whole tree, report.

The host starts it as ``python -S -s -B -c "from evaluators.supervisor import
main; main()"`` in a new session, with the evaluators library on PYTHONPATH and
the job spec (JSON) on stdin. It writes exactly one envelope (JSON, see
:mod:`evaluators.envelope`) to its stdout and exits 0. Nothing the candidate
controls can reach that stdout: the harness gets fresh pipes for 0/1/2 plus a
private result pipe, and the supervisor is undumpable (no /proc/<pid>/fd access).

Per job, in this order:

* become a child subreaper, so every orphaned descendant reparents here and
  no process of the job can leave this subtree;
* as root: a new network namespace (no interfaces up), a new IPC namespace,
  a new mount namespace
  (see :mod:`evaluators._fs`), and a per-job unprivileged uid for the harness;
  ``spec["require"]`` lists the features the host was promised, and a job that
  cannot get them fails with ERROR instead of running with less;
* fork the harness: new session, parent-death SIGKILL, rlimits (address space,
  CPU time, file size, open files, processes, no core), no_new_privs, then the
  uid drop, then :func:`evaluators.harness.serve` (it and its zygote install
  the seccomp filters, whose listeners come back here);
* drain stdout/stderr until it exits or the deadline, answering the filters:
  what the candidate tried becomes the envelope's ``probes``
  (:mod:`evaluators._monitor`; ``spec["monitor"] = false``: the plain filter);
* kill every remaining descendant (as the job's uid: ``kill(-1, SIGKILL)``
  until none are left; otherwise SIGSTOP/SIGKILL over a /proc scan).

The uid in ``spec["uid"]`` must be free of processes when the job starts and
used by no other job meanwhile: the host's allocator guarantees that
(:mod:`sandboxes._uids` sweeps a uid whose last job did not end cleanly).

Stdlib only and host-agnostic: :func:`run_job` can serve a fork server in a
container as well as this one-shot ``main``.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import resource
import select
import signal
import sys
import time
from typing import Any

from evaluators import (
    _endings,
    _fs,
    _linux,
    _listeners,
    _monitor,
    _procs,
    _seccomp,
    contract,
    envelope,
    harness,
)
from evaluators.contract import Status

__all__ = ["main", "probe", "run_job"]

_OUTPUT_BUDGET = contract.MAX_ENVELOPE_BYTES - 200_000


def _limit(res: int, soft: int, hard: int | None = None) -> None:
    """Lower a resource limit (never above the hard limit we were given)."""
    _, current = resource.getrlimit(res)
    hard = soft if hard is None else hard
    if current != resource.RLIM_INFINITY:
        soft, hard = min(soft, current), min(hard, current)
    resource.setrlimit(res, (soft, hard))


def _user_tasks(uid: int) -> int:
    """Tasks (threads included) that ``uid`` owns: RLIMIT_NPROC counts them all."""
    count = 0
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                if os.stat(f"/proc/{name}").st_uid == uid:
                    with open(f"/proc/{name}/stat", "rb") as f:
                        count += int(f.read().rpartition(b")")[2].split()[17])
            except (OSError, ValueError, IndexError):
                continue
    return count


_seccomp_probe: tuple[bool, str] | None = None


def warm() -> None:
    """Work every job would repeat, done once by a fork server before it forks jobs."""
    _seccomp_works()


def _seccomp_works() -> tuple[bool, str]:
    """Whether the harness's seccomp filter installs here: tried once in a throwaway
    child, by the same code the harness runs, so the answer is not a guess."""
    global _seccomp_probe
    if _seccomp_probe is None:
        _seccomp_probe = _try_seccomp()
    return _seccomp_probe


def _try_seccomp() -> tuple[bool, str]:
    # An ignored SIGCHLD would reap the child before we can read its status.
    with contextlib.suppress(ValueError):  # not the main thread: leave it as it is
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            _linux.set_no_new_privs()
            _seccomp.install()
            code = 0
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    if os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0:
        return True, ""
    try:
        _seccomp.syscall_numbers()
    except OSError as exc:
        return False, str(exc)
    return False, "the kernel refused it"


def _isolate(spec: dict[str, Any], uid: int | None) -> tuple[int | None, set[str], list[str]]:
    """Apply what this host allows; returns the uid to run as, features enforced, notes."""
    enforced: set[str] = set()
    notes: list[str] = []
    with contextlib.suppress(OSError):
        _linux.set_undumpable()
    try:
        _linux.set_child_subreaper()
        enforced.add("tree")
    except OSError as exc:
        notes.append(f"no subreaper ({exc.strerror})")
    filtered, why = _seccomp_works()
    if filtered:
        enforced.add("syscalls")
    else:
        notes.append(f"no syscall filter ({why})")
    if os.geteuid() != 0:
        return None, enforced, notes
    needed = [*spec.get("visible", []), *_fs.python_paths(spec.get("sys_path", []))]
    try:
        _linux.unshare(_linux.CLONE_NEWNET)
        enforced.add("network")
    except OSError as exc:
        notes.append(f"no network namespace ({exc.strerror})")
    try:
        # SysV IPC objects outlive their processes: in a namespace of the job's
        # own, the kernel frees them with it (a container's server removes them).
        _linux.unshare(_linux.CLONE_NEWIPC)
        enforced.add("ipc")
    except OSError as exc:
        notes.append(f"no IPC namespace ({exc.strerror})")
    try:
        # The harness (the next child) becomes init of a PID namespace of its own
        # and mounts its own /proc: the candidate sees no other process (nor its
        # command line or environment), and every process of the job dies with it.
        _linux.unshare(_linux.CLONE_NEWPID)
        enforced.add("pids")
    except OSError as exc:
        notes.append(f"no PID namespace ({exc.strerror})")
    if uid is not None:
        try:
            _linux.unshare(_linux.CLONE_NEWNS)
            tmpfs_mb = max(16, int(spec["limits"]["resources"]["max_file_mb"]))
            shared_gid = _candidate_uid(spec, uid)
            _fs.isolate(spec["job_dir"], spec["scratch_dir"], needed, uid, shared_gid, tmpfs_mb)
            enforced.add("filesystem")
        except OSError as exc:
            notes.append(f"no private filesystem ({exc})")
        blocked = _fs.unreachable([spec["job_dir"], *needed])
        if blocked:
            notes.append(f"uid {uid} cannot read {blocked[0]}; running as root")
            uid = None
        else:
            enforced.update({"uid", "processes"})
            if _candidate_uid(spec, uid) != uid:
                enforced.add("hidden_files")
    return uid, enforced, notes


def _candidate_uid(spec: dict[str, Any], uid: int) -> int:
    """The uid ``call_candidate`` runs the candidate as: the job's second uid, which
    cannot read the scorer-only files the job's uid owns (the same uid when the
    host gave the job only one)."""
    return int(spec.get("candidate_uid") or uid)


def probe(spec: dict[str, Any]) -> dict[str, Any]:
    """What isolation this host gives a job like ``spec`` (run in a throwaway process)."""
    _, enforced, notes = _isolate(spec, spec.get("uid"))
    return {"root": os.geteuid() == 0, "enforced": sorted(enforced), "notes": notes}


def _child(
    spec: dict[str, Any],
    uid: int | None,
    fds: tuple[int, int, int, int],
    nproc: int,
    filter_syscalls: bool,
    own_pids: bool,
) -> None:
    """In the forked harness process: limit, drop privileges, filter syscalls,
    serve. Never returns. A filter that was probed to work and then fails to
    install ends the job (the harness exits without a result): never fail open."""
    out_w, err_w, res_w, monitor_w = fds
    code = 70
    try:
        os.setsid()
        _linux.set_parent_death_signal(signal.SIGKILL)
        devnull = os.open(os.devnull, os.O_RDONLY)
        os.dup2(devnull, 0)
        os.dup2(out_w, 1)
        os.dup2(err_w, 2)
        low, high = sorted((res_w, monitor_w))
        os.closerange(3, low)
        os.closerange(low + 1, high)
        os.closerange(high + 1, 1 << 16)
        if own_pids:  # init of the job's PID namespace: a /proc showing only it
            _linux.unshare(_linux.CLONE_NEWNS)
            flags = _linux.MS_NOSUID | _linux.MS_NODEV | _linux.MS_NOEXEC
            _linux.mount("proc", "/proc", "proc", flags, None)
        limits = spec["limits"]
        resources = limits["resources"]
        timeout = math.ceil(float(limits["timeout_s"]))
        _limit(resource.RLIMIT_AS, int(resources["memory_mb"]) << 20)
        _limit(resource.RLIMIT_CPU, timeout + 1, timeout + 3)
        _limit(resource.RLIMIT_FSIZE, int(resources["max_file_mb"]) << 20)
        _limit(resource.RLIMIT_NOFILE, int(resources["max_open_files"]))
        _limit(resource.RLIMIT_CORE, 0)
        if nproc > 0:
            _limit(resource.RLIMIT_NPROC, nproc)
        # Under memory pressure (a container's cgroup), the candidate dies first.
        with contextlib.suppress(OSError), open("/proc/self/oom_score_adj", "w") as f:
            f.write("1000")
        _linux.set_no_new_privs()
        if uid is not None:
            # Files are opened with the effective id (the job's uid, owner of the
            # scorer-only files); the real and saved ids are the candidate's.
            # call_candidate's child takes them for all three (no privilege
            # needed) before loading the candidate, and then cannot read those
            # files; this process may still signal (time out) that child.
            candidate = _candidate_uid(spec, uid)
            os.setgroups([])
            os.setresgid(candidate, uid, candidate)
            os.setresuid(candidate, uid, candidate)
        _linux.set_undumpable()  # the candidate (same uid) cannot open our result fd
        if filter_syscalls:  # now (plain) or by the harness and its zygote (watching)
            _listeners.prepare(monitor_w, watch=spec.get("monitor", True))
        else:
            os.close(monitor_w)
        os.chdir(spec["scratch_dir"])
        code = harness.serve(spec["harness"], res_w)
    except BaseException as exc:
        with contextlib.suppress(BaseException):
            os.write(2, f"harness start-up failed: {type(exc).__name__}: {exc}\n".encode())
    os._exit(code)


def _kill_uid(uid: int) -> None:
    """From a process running as ``uid``: SIGKILL every process of that uid, repeatedly.

    In a PID namespace whose init (the harness) has exited, the kernel has killed
    every process of the job already and refuses to fork into it: nothing to do."""
    try:
        pid = os.fork()
    except OSError:
        return
    if pid == 0:
        code = 1
        try:
            os.setgroups([])
            os.setresgid(uid, uid, uid)
            os.setresuid(uid, uid, uid)
            for _ in range(20):
                os.kill(-1, signal.SIGKILL)
            code = 0
        finally:
            os._exit(code)
    os.waitpid(pid, 0)


class _Reaper:
    """Reaps children, remembering the largest peak RSS among them."""

    def __init__(self) -> None:
        self.peak_kb = 0

    def wait(self, pid: int) -> int:
        _, status, usage = os.wait4(pid, 0)
        self.peak_kb = max(self.peak_kb, usage.ru_maxrss)
        return status

    def none_left(self) -> bool:
        while True:
            try:
                pid, _, usage = os.wait4(-1, os.WNOHANG)
            except ChildProcessError:
                return True
            if pid == 0:
                return False
            self.peak_kb = max(self.peak_kb, usage.ru_maxrss)


def _sweep(reaper: _Reaper, uids: tuple[int, ...]) -> None:
    """Kill and reap every remaining descendant (the subreaper keeps them all here)."""
    for attempt in range(400):
        if reaper.none_left():
            return
        if uids and attempt % 2 == 0:
            for uid in uids:
                _kill_uid(uid)
        else:
            _procs.kill_tree(os.getpid(), include_root=False)
        time.sleep(min(0.02, 0.001 * (attempt + 1)))


def _drain(fd: int, capture: _procs.Capture, deadline: float) -> None:
    """Read what is left in a pipe once every writer is dead (bounded in time)."""
    while time.monotonic() < deadline:
        if not select.select([fd], [], [], max(0.0, deadline - time.monotonic()))[0]:
            return
        data = os.read(fd, 1 << 20)
        if not data:
            return
        capture.feed(data)


def _join_cgroup(procs_file: str) -> None:
    """Move this supervisor into the job's CPU cgroup before it forks anything, so
    the harness and every process of the candidate share the job's CPU quota."""
    with open(procs_file, "w") as f:
        f.write(str(os.getpid()))


def run_job(spec: dict[str, Any]) -> dict[str, Any]:
    """Run one job as described in the module docstring; always returns an envelope."""
    limits = spec["limits"]
    if spec.get("cgroup"):
        try:
            _join_cgroup(spec["cgroup"])
        except OSError as exc:
            return envelope.make_envelope(
                Status.ERROR, f"the sandbox could not enforce the job's CPU share: {exc}"
            )
    uid, enforced, notes = _isolate(spec, spec.get("uid"))
    if spec.get("cgroup"):
        enforced.add("cpu")  # joined above
    missing = sorted(set(spec.get("require", [])) - enforced)
    if missing:
        return envelope.make_envelope(
            Status.ERROR, f"the sandbox could not enforce {', '.join(missing)}: {'; '.join(notes)}"
        )
    nproc = int(limits["resources"]["max_processes"])
    if os.geteuid() != 0:
        nproc += _user_tasks(os.getuid())
    elif uid is None:
        nproc = 0  # root ignores RLIMIT_NPROC
    sys.path[:] = [*spec.get("visible", []), *spec.get("sys_path", sys.path)]
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    res_r, res_w = os.pipe()
    candidate_uid = None if uid is None else _candidate_uid(spec, uid)
    monitor, monitor_w = _monitor.Monitor.for_job(
        candidate_uid, spec["scratch_dir"], nproc, "pids" in enforced
    )
    started = time.monotonic()
    pid = os.fork()
    if pid == 0:
        fds = (out_w, err_w, res_w, monitor_w.fileno())
        _child(spec, uid, fds, nproc, "syscalls" in enforced, "pids" in enforced)
    monitor_w.close()
    for fd in (out_w, err_w, res_w):
        os.close(fd)
    cap = int(limits["resources"]["max_output_kb"]) * 1024
    captures = {out_r: _procs.Capture(cap), err_r: _procs.Capture(cap)}
    result = bytearray()
    deadline = started + float(limits["timeout_s"])
    reaper = _Reaper()
    timed_out = False
    with _procs.ExitWatch(pid) as watch:
        poller = select.poll()
        for fd in (out_r, err_r, res_r, *monitor.fds()):
            poller.register(fd, select.POLLIN)
        if watch.fd is not None:
            poller.register(watch.fd, select.POLLIN)
        while not watch.exited():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                timed_out = True
                break
            wait = remaining if watch.fd is not None else min(remaining, 0.01)
            for fd, _ in poller.poll(wait * 1000):
                if fd == watch.fd:
                    continue
                if fd in monitor.fds():
                    monitor.serve(fd, poller)
                    continue
                data = os.read(fd, 1 << 20)
                if not data:
                    poller.unregister(fd)
                elif fd == res_r:
                    if len(result) <= contract.MAX_ENVELOPE_BYTES:
                        result += data
                else:
                    captures[fd].feed(data)
    wall = time.monotonic() - started
    if timed_out:
        _procs.kill_tree(pid)
    status = reaper.wait(pid)
    _sweep(reaper, () if uid is None else tuple({uid, _candidate_uid(spec, uid)}))
    monitor.close()
    os.set_blocking(res_r, False)
    with contextlib.suppress(BlockingIOError):
        while len(result) <= contract.MAX_ENVELOPE_BYTES and (data := os.read(res_r, 1 << 20)):
            result += data
    drain_until = time.monotonic() + 2.0
    for fd, capture in captures.items():
        _drain(fd, capture, drain_until)
    for fd in (out_r, err_r, res_r):
        os.close(fd)
    stdout = captures[out_r].text(contract.MAX_ARTIFACT_CHARS)
    stderr = captures[err_r].text(contract.MAX_ARTIFACT_CHARS)
    peak_mb = reaper.peak_kb / 1024.0
    if result:
        try:
            final = envelope.decode_envelope(bytes(result))
        except envelope.EnvelopeError as exc:
            final = envelope.make_envelope(
                Status.ERROR, f"the harness sent an invalid result: {exc}"
            )
    else:
        code, reason = _endings.no_result(status, timed_out, limits, peak_mb, stderr)
        final = envelope.make_envelope(code, reason)
    outputs = {"stdout": stdout, "stderr": stderr}
    final["artifacts"].update({k: v for k, v in outputs.items() if v})
    final["artifacts"] = envelope.fit_artifacts(final["artifacts"], _OUTPUT_BUDGET)
    final["wall_time_s"] = round(wall, 6)
    final["peak_memory_mb"] = round(peak_mb, 3)
    if spec.get("monitor", True):
        totals = {"stdout": captures[out_r].total, "stderr": captures[err_r].total}
        monitor.note_limits(final["status"], limits, totals, cap)
        final["probes"] = monitor.report()
    return final


def main() -> None:
    """One job (or ``--probe``): spec on stdin, envelope on stdout, exit 0."""
    if sys.path and sys.path[0] in ("", "."):
        del sys.path[0]
    spec = json.loads(sys.stdin.buffer.read())
    if "--probe" in sys.argv:
        out = json.dumps(probe(spec)).encode()
    else:
        out = envelope.encode_envelope(run_job(spec))
    while out:
        out = out[os.write(1, out) :]
    os._exit(0)
