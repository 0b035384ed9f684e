"""Behaviour monitoring: what a job's candidate tried that its sandbox refuses.

A reviewer wants to see when the search starts probing its sandbox or its
scorer instead of solving the problem (an LLM that finds the data files will
try). Nothing here widens what is allowed: the network namespace, the file
permissions, the rlimits and the seccomp filter decide. This module *sees*,
from outside the candidate, through seccomp user notifications
(``SECCOMP_FILTER_FLAG_NEW_LISTENER``), which the candidate cannot forge or
silence. A process and its children share one listener, so each job has two
filters, both of :func:`evaluators._seccomp.program`, both installed by
:mod:`evaluators._listeners`:

* the zygote's, installed once it holds the candidate's ids and before any
  candidate code runs (it is forked before the harness installs its own), so
  inherited by every process ``call_candidate`` starts: denied syscalls,
  every open, network sockets and new processes go to its listener;
* the harness's, for the scorer's process and what it starts: denied
  syscalls, network sockets and new processes.

The supervisor answers each notification: it lets go on exactly the syscalls
the filter only watches (``Monitor._goes_on``: an open, a network socket, a
clone without namespace flags) and answers EPERM to every other, so a denied
syscall never runs; where the supervisor is gone the kernel fails the call.

What counts (``KINDS``): ``network`` (an AF_INET/AF_INET6/AF_PACKET socket:
there is no network to reach), ``write`` (a write-open outside the scratch and
temporary directories), ``read`` (an open of a file the candidate's uid may
not read: the scorer-only files, ``/etc/shadow``), ``syscall`` (one the filter
denies: ptrace, mount, keyctl, unshare, ...) and ``limit`` (time, memory,
processes, output). Each job reports counts and a short log of distinct lines.

Where it cannot see: a candidate the scorer imports into its own process
shows denied syscalls, sockets and processes, not its files (they are the
scorer's); in
Docker, a syscall Docker's own profile refuses first never reaches the
listener; the path of an open is read from the process's memory, so a
candidate racing another thread can hide which file it opened (not that it
opened one, nor the kernel's refusal). The cost is one round trip to the
supervisor per watched syscall: about 0.1 ms per file a candidate process
opens (``benchmarks/monitoring.py``).
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import re
import select
import socket
import struct
from typing import Any

from evaluators import _linux, _seccomp, contract
from evaluators.contract import Status

__all__ = [
    "KINDS",
    "Monitor",
]

KINDS = contract.PROBE_KINDS
MAX_LOG_LINES = contract.MAX_PROBE_LINES
MAX_LINE_CHARS = contract.MAX_PROBE_LINE_CHARS

# linux/seccomp.h: struct seccomp_notif (80 bytes) and seccomp_notif_resp (24)
_NOTIF = struct.Struct("QIIiIQ6Q")
_RESP = struct.Struct("QqiI")
_IOCTL_RECV = 0xC0502100  # SECCOMP_IOCTL_NOTIF_RECV
_IOCTL_SEND = 0xC0182101  # SECCOMP_IOCTL_NOTIF_SEND
_IOCTL_SET_FLAGS = 0x40082104  # SECCOMP_IOCTL_NOTIF_SET_FLAGS
_IOCTL_ID_VALID = 0x40082102  # SECCOMP_IOCTL_NOTIF_ID_VALID
_IOCTL_ID_VALID_OLD = 0x80082102  # its number before Linux 5.9
_FD_SYNC_WAKE_UP = 1  # SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP
_FLAG_CONTINUE = 1
_EPERM = 1
_AT_FDCWD = 0xFFFFFF9C  # -100 as the low 32 bits of an argument
_O_ACCMODE, _O_CREAT, _O_TRUNC = 0o3, 0o100, 0o1000
_PROC_PID = re.compile(r"^/proc/\d+(/task/\d+)?(?=/|$)")
_FAMILIES = {2: "AF_INET", 10: "AF_INET6", 17: "AF_PACKET"}
# whose processes a listener's filter covers: the zygote's tree runs only the
# candidate; the harness's runs the scorer (and a candidate it loads in-process)
_WHO = {"candidate": "candidate", "job": "scorer process"}
_WRITABLE = ("/tmp", "/var/tmp", "/dev/shm", "/dev/fd", "/proc/self/fd", "/dev/pts")
_WRITABLE_FILES = frozenset(
    {"/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom", "/dev/tty"}
    | {"/dev/stdin", "/dev/stdout", "/dev/stderr"}
)

# -- in the supervisor: answer the notifications, count what was tried


class Monitor:
    """The supervisor's side for one job: its channel, the listeners it gets and
    what they report. ``report()`` is the envelope's ``probes`` field."""

    @classmethod
    def for_job(
        cls, candidate_uid: int | None, scratch_dir: str, process_limit: int, private_proc: bool
    ) -> tuple[Monitor, socket.socket]:
        """A monitor for one job and the channel's other end, for the harness."""
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        monitor = cls(ours.detach(), candidate_uid, scratch_dir)
        monitor.process_limit = process_limit if candidate_uid is not None else 0
        monitor.private_proc = private_proc
        return monitor, theirs

    def __init__(self, channel: int, candidate_uid: int | None, scratch_dir: str) -> None:
        self.channel: int | None = channel
        self.listeners: dict[int, str] = {}  # fd -> "job" | "candidate"
        self.roles: set[str] = set()  # of every listener received
        self.candidate_uid = candidate_uid
        self.scratch_dir = os.path.normpath(scratch_dir)
        self.counts = dict.fromkeys(KINDS, 0)
        self.lines: dict[str, int] = {}
        self.process_limit = 0  # RLIMIT_NPROC of the job (0: none)
        self.private_proc = False  # the job has its own PID namespace and /proc
        # Without CAP_SYS_PTRACE (Docker) a process's memory and /proc entries
        # are read as its own uid (the zygote makes its children dumpable); with
        # it, as ourselves (an undumpable process's entries belong to root).
        self._fs_uid = None if _ptrace_capable() else candidate_uid
        self._searchable: dict[str, bool] = {}  # folder -> may the candidate search it
        self._own = (self.scratch_dir, *_WRITABLE)  # folders whose modes it may change
        self._mem_fds: dict[int, int] = {}  # pid -> its /proc/PID/mem, open
        self._process_limit_seen = False
        self._names = {n: name for name, n in _denied_numbers().items()}
        self._arch, self._clone = _native()
        self._watched = _watched_numbers()
        self._watched_set = frozenset(self._watched.values())
        self._buffer = bytearray(_NOTIF.size)

    def fds(self) -> list[int]:
        return [fd for fd in (self.channel, *self.listeners) if fd is not None]

    def on_readable(self, fd: int) -> None:
        if fd == self.channel:
            self._receive_listener()
        elif fd in self.listeners:
            self._answer(fd)

    def serve(self, fd: int, poller: select.poll) -> None:
        """Serve one readable fd, keeping ``poller``'s set in step with ours (a
        listener arrives on the channel; one with no process left goes)."""
        before = set(self.fds())
        self.on_readable(fd)
        after = set(self.fds())
        for gone in before - after:
            with contextlib.suppress(KeyError, ValueError):
                poller.unregister(gone)
        for new in after - before:
            poller.register(new, select.POLLIN)

    def note_limits(
        self, status: str, limits: dict[str, Any], output_totals: dict[str, int], cap: int
    ) -> None:
        """The limits the job ran into: its status, and output beyond ``cap``."""
        resources = limits["resources"]
        if status == Status.TIMEOUT:
            self.record("limit", f"time limit: {float(limits['timeout_s']):g} s")
        elif status == Status.OOM:
            self.record("limit", f"memory limit: {resources['memory_mb']} MB")
        for name, total in output_totals.items():
            if total > cap:
                self.record("limit", f"output limit: {total} bytes on {name}, {cap} kept")

    def record(self, kind: str, line: str) -> None:
        self.counts[kind] = min(self.counts[kind] + 1, contract.MAX_PROBE_COUNT)
        line = " ".join(f"{kind}: {line}".split())[:MAX_LINE_CHARS]
        if line in self.lines or len(self.lines) < MAX_LOG_LINES:
            self.lines[line] = self.lines.get(line, 0) + 1

    def seen(self) -> list[str]:
        """The kinds this job's monitoring could see (limits always; the rest
        only with the listeners the kernel gave)."""
        kinds = {"limit"}
        if self.roles:
            kinds.add("syscall")
        if self.roles and _seccomp.can_continue():  # else nothing is watched
            kinds.add("network")
            if "candidate" in self.roles:
                kinds.update({"write", "read"})
        return [k for k in KINDS if k in kinds]

    def report(self) -> dict[str, Any]:
        """The envelope's ``probes``: counts, the log (repeats as ``(xN)``), seen."""
        log = [line if n == 1 else f"{line} (x{n})" for line, n in self.lines.items()]
        counts = {k: n for k, n in self.counts.items() if n}
        return {"counts": counts, "log": log, "seen": self.seen()}

    def close(self) -> None:
        for fd in [*self.fds(), *self._mem_fds.values()]:
            with contextlib.suppress(OSError):
                os.close(fd)
        self.channel, self.listeners, self._mem_fds = None, {}, {}

    def _receive_listener(self) -> None:
        assert self.channel is not None
        try:
            with socket.socket(fileno=os.dup(self.channel)) as sock:
                message, fds, _, _ = socket.recv_fds(sock, 64, 1)
        except OSError:
            message, fds = b"", []
        role = message.decode(errors="replace")
        if not message or len(self.listeners) >= 2 or role not in ("job", "candidate"):
            for fd in fds:
                os.close(fd)
            if not message:  # every sender closed its end
                os.close(self.channel)
                self.channel = None
            return
        for fd in fds:
            self.listeners[fd] = role
            self.roles.add(role)
            # Wake the waiting process on this CPU when we answer (Linux 6.6+): a
            # watched syscall then costs ~17 us instead of ~60 (benchmarks/monitoring.py).
            with contextlib.suppress(OSError):
                fcntl.ioctl(fd, _IOCTL_SET_FLAGS, _FD_SYNC_WAKE_UP)

    def _answer(self, fd: int) -> None:
        buffer = self._buffer
        buffer[:] = bytes(len(buffer))
        try:
            fcntl.ioctl(fd, _IOCTL_RECV, buffer, True)
        except OSError:  # the process died meanwhile, or the filter is gone
            if not _alive(fd):
                del self.listeners[fd]
                os.close(fd)
            return
        notif_id, pid, _, nr, arch, _, *args = _NOTIF.unpack(buffer)
        if arch == self._arch and self._goes_on(nr, args[0]):
            found = None
            with contextlib.suppress(OSError, ValueError):
                found = self._look(pid, nr, args, _WHO[self.listeners[fd]])
            # What we read belongs to the process only if it is still waiting
            # (not killed, its pid not reused meanwhile).
            if found is not None and _still_waiting(fd, notif_id):
                self.record(*found)
            response = _RESP.pack(notif_id, 0, 0, _FLAG_CONTINUE)
        else:  # everything else the filter sends is a denial
            name = self._names.get(nr, f"syscall {nr}")
            name = "clone with a namespace flag" if name == "clone" else name
            self.record("syscall", f"{name} denied ({_WHO[self.listeners[fd]]})")
            response = _RESP.pack(notif_id, 0, -_EPERM, 0)
        with contextlib.suppress(OSError):  # ENOENT: it was killed while we looked
            fcntl.ioctl(fd, _IOCTL_SEND, response)

    def _goes_on(self, nr: int, flags: int) -> bool:
        """Whether a notified syscall is one the filter only watches: the
        listener lets exactly these go on, so a denied one never does."""
        if nr == self._clone:
            return not flags & 0xFFFFFFFF & _seccomp.CLONE_NAMESPACES
        return nr in self._watched_set

    def _look(self, pid: int, nr: int, args: list[int], who: str) -> tuple[str, str] | None:
        """What a watched syscall tried that the sandbox refuses: (kind, line)."""
        watched = self._watched
        if nr == watched.get("socket"):
            family = _FAMILIES.get(args[0] & 0xFFFFFFFF, str(args[0]))
            return "network", f"socket({family}) ({who}): the sandbox has no network"
        if nr in (watched.get("fork"), watched.get("vfork"), self._clone):
            return self._check_processes(pid)
        return self._look_at_open(pid, nr, args, watched)

    def _look_at_open(
        self, pid: int, nr: int, args: list[int], watched: dict[str, int]
    ) -> tuple[str, str] | None:
        with _linux.file_system_ids(self._fs_uid):
            if nr == watched.get("openat"):
                dirfd, address, flags = args[0] & 0xFFFFFFFF, args[1], args[2]
            elif nr == watched.get("openat2"):
                dirfd, address = args[0] & 0xFFFFFFFF, args[1]
                flags = struct.unpack("Q", self._memory(pid, args[2], 8))[0]
            elif nr == watched.get("creat"):
                dirfd, address, flags = _AT_FDCWD, args[0], 0o1101  # O_WRONLY|O_CREAT|O_TRUNC
            else:  # open
                dirfd, address, flags = _AT_FDCWD, args[0], args[1]
            path = _path(pid, dirfd, self._string(pid, address))
            writes = flags & _O_ACCMODE or flags & (_O_CREAT | _O_TRUNC)
            if writes:
                if not self._writable(path):
                    return "write", f"open {_shown(path)!r} for writing, outside its scratch"
            elif _unreadable(pid, path, self.candidate_uid, self._searchable, self._own):
                return "read", f"open {_shown(path)!r}, which it may not read"
        return None

    def _memory(self, pid: int, address: int, size: int) -> bytes:
        """``size`` bytes of ``pid``'s memory. Its /proc/PID/mem stays open
        while it lives (an import opens a hundred files from one process)."""
        fd = self._mem_fds.get(pid)
        if fd is None:
            if len(self._mem_fds) >= 64:
                os.close(self._mem_fds.pop(next(iter(self._mem_fds))))
            fd = self._mem_fds[pid] = os.open(f"/proc/{pid}/mem", os.O_RDONLY | os.O_CLOEXEC)
        data = b""
        with contextlib.suppress(OSError):
            data = os.pread(fd, size, address)
        if not data:  # gone, its pid perhaps reused: once more, freshly opened
            os.close(self._mem_fds.pop(pid))
            fd = self._mem_fds[pid] = os.open(f"/proc/{pid}/mem", os.O_RDONLY | os.O_CLOEXEC)
            data = os.pread(fd, size, address)
        return data

    def _string(self, pid: int, address: int) -> bytes:
        """The NUL-terminated string at ``address`` (a path: at most 4096 bytes)."""
        data = self._memory(pid, address, 256)
        if b"\0" not in data and len(data) == 256:
            data += self._memory(pid, address + 256, 4096 - 256)
        return data.split(b"\0", 1)[0]

    def _writable(self, path: str) -> bool:
        if path in _WRITABLE_FILES:
            return True
        return any(_within(path, top) for top in (self.scratch_dir, *_WRITABLE))

    def _check_processes(self, pid: int) -> tuple[str, str] | None:
        """A new process: is the job at its process limit? RLIMIT_NPROC counts
        the tasks (threads too) whose real uid is the candidate's: counted in
        the job's own /proc where it has a PID namespace, else in ours (a
        container's). Reported once per job."""
        uid = self.candidate_uid
        if not self.process_limit or self._process_limit_seen or uid is None:
            return None
        proc = f"/proc/{pid}/root/proc" if self.private_proc else "/proc"
        with _linux.file_system_ids(self._fs_uid):
            tasks = _tasks_of(proc, uid)
        if tasks >= self.process_limit:
            self._process_limit_seen = True
            return "limit", f"process limit: {tasks} of {self.process_limit} in use"
        return None


def _still_waiting(fd: int, notif_id: int) -> bool:
    """SECCOMP_IOCTL_NOTIF_ID_VALID: the notification is still pending (ENOENT:
    not). Kernels before 5.9 know the ioctl only by its first, misdirected number."""
    for request in (_IOCTL_ID_VALID, _IOCTL_ID_VALID_OLD):
        try:
            fcntl.ioctl(fd, request, struct.pack("Q", notif_id))
        except OSError as exc:
            if exc.errno == errno.ENOENT:
                return False
            continue
        return True
    return False


def _alive(fd: int) -> bool:
    """Whether a listener still has processes behind it (poll gives POLLHUP
    once none is left)."""
    poller = select.poll()
    poller.register(fd, select.POLLIN)
    return not any(event & (select.POLLHUP | select.POLLERR) for _, event in poller.poll(0))


def _within_any(path: str, tops: tuple[str, ...]) -> bool:
    return any(_within(path, top) for top in tops)


def _within(path: str, top: str) -> bool:
    return path == top or path.startswith(top.rstrip("/") + "/")


def _path(pid: int, dirfd: int, raw: bytes) -> str:
    """``raw`` as an absolute, normalised path in the process's view."""
    text = raw.decode("utf-8", "backslashreplace")
    if not text.startswith("/"):
        where = "cwd" if dirfd == _AT_FDCWD else f"fd/{dirfd}"
        text = os.path.join(os.readlink(f"/proc/{pid}/{where}"), text)
    return os.path.normpath(text)


def _shown(path: str) -> str:
    """``path`` for the log: one line for every process's /proc entry (a walk
    of /proc would fill the log with one line per pid)."""
    return _PROC_PID.sub(lambda m: "/proc/PID" + ("/task/TID" if m.group(1) else ""), path)


def _unreadable(
    pid: int,
    path: str,
    candidate_uid: int | None,
    searchable: dict[str, bool],
    own: tuple[str, ...],
) -> bool:
    """Whether the candidate's uid may not read ``path``, seen through the
    process's own root: a folder on the way it may not search, or the file's
    mode. (Where our ids are the candidate's, the kernel refuses the stat.)
    ``searchable`` caches the folders outside the candidate's own (whose modes
    it cannot change): an import opens a hundred files in the same few."""
    root = f"/proc/{pid}/root"
    parts = [p for p in path.split("/") if p]
    judge = candidate_uid is not None and os.geteuid() == 0
    try:
        for depth in range(len(parts)):
            prefix = "/" + "/".join(parts[: depth + 1])
            last = depth == len(parts) - 1
            if not last and prefix in searchable:
                if not searchable[prefix]:
                    return True
                continue
            info = os.stat(root + prefix)
            allowed = not judge or _may(info, candidate_uid or 0, 0o4 if last else 0o1)
            if not last and not _within_any(prefix, own) and len(searchable) < 4096:
                searchable[prefix] = allowed
            if not allowed:
                return True
    except PermissionError:
        return True
    except OSError:
        return False  # missing: not a refusal
    return False


def _may(info: os.stat_result, uid: int, bit: int) -> bool:
    """Whether ``uid`` (whose gid is its uid, with no other groups: see the
    supervisor) has the permission ``bit`` (4 read, 1 search) on a file."""
    if info.st_uid == uid:
        return bool(info.st_mode >> 6 & bit)
    if info.st_gid == uid:
        return bool(info.st_mode >> 3 & bit)
    return bool(info.st_mode & bit)


def _ptrace_capable() -> bool:
    try:
        return _linux.capability_bounded(_linux.CAP_SYS_PTRACE) and os.geteuid() == 0
    except OSError:
        return False


def _tasks_of(proc: str, uid: int) -> int:
    """Tasks of processes whose real uid is ``uid``, in the /proc at ``proc``."""
    total = 0
    for name in os.listdir(proc):
        if not name.isdigit():
            continue
        with (
            contextlib.suppress(OSError, ValueError, IndexError),
            open(f"{proc}/{name}/status", "rb") as f,
        ):
            real = threads = None
            for raw in f:
                if raw.startswith(b"Uid:"):
                    real = int(raw.split()[1])
                elif raw.startswith(b"Threads:"):
                    threads = int(raw.split()[1])
            if real == uid and threads:
                total += threads
    return total


def _denied_numbers() -> dict[str, int]:
    try:
        _, numbers = _seccomp.syscall_numbers()
    except OSError:
        return {}
    return {name: n for name, n in numbers.items() if name in _seccomp.DENIED or name == "clone"}


def _watched_numbers() -> dict[str, int]:
    try:
        return _seccomp.watched_numbers()
    except OSError:
        return {}


def _native() -> tuple[int | None, int | None]:
    """(AUDIT_ARCH, clone's number) of this machine; None where it has no filter."""
    try:
        arch, numbers = _seccomp.syscall_numbers()
    except OSError:
        return None, None
    return arch, numbers["clone"]
