"""Per-job unprivileged uids for root hosts: allocation and the last-resort sweep.

Root ignores RLIMIT_NPROC and may signal anything, so each running job gets
its own uid from a range (61000 + slot by default; it needs no /etc/passwd
entry). Slots are claimed with ``flock`` on a file per uid, so several
sandboxes in different worker processes never share a uid, and a crashed
holder frees its slot automatically. A slot whose last job did not end
cleanly (its supervisor was killed) is swept before reuse: every process of
that uid is SIGKILLed until /proc shows none.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import signal
import stat
import tempfile
import threading
import time
from dataclasses import dataclass

__all__ = ["UidLease", "UidPool", "kill_uid_processes"]


def _uids_of(pid: str) -> set[int]:
    with open(f"/proc/{pid}/status", "rb") as f:
        for line in f:
            if line.startswith(b"Uid:"):
                return {int(x) for x in line.split()[1:]}
    return set()


def kill_uid_processes(uid: int, timeout_s: float = 10.0) -> bool:
    """SIGKILL every process whose real, effective or saved uid is ``uid``.

    Returns True once /proc shows none (False if some survive ``timeout_s``).
    """
    deadline = time.monotonic() + timeout_s
    while True:
        found = False
        for name in os.listdir("/proc"):
            if not name.isdigit():
                continue
            try:
                if uid in _uids_of(name):
                    found = True
                    os.kill(int(name), signal.SIGKILL)
            except (OSError, ValueError):
                continue
        if not found:
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)


@dataclass(frozen=True)
class UidLease:
    uid: int
    fd: int


class UidPool:
    """Hands out distinct uids from ``base .. base + size - 1``, across threads and processes."""

    def __init__(self, base: int = 61000, size: int = 256, lock_dir: str | None = None) -> None:
        self.base = base
        self.size = size
        self.lock_dir = lock_dir or os.path.join(tempfile.gettempdir(), f"evolve-uids-{base}")
        os.makedirs(self.lock_dir, mode=0o700, exist_ok=True)
        info = os.lstat(self.lock_dir)
        if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.geteuid():
            raise RuntimeError(f"{self.lock_dir}: not a directory owned by uid {os.geteuid()}")
        self._cond = threading.Condition()
        self._held: set[int] = set()

    def acquire(self, timeout_s: float = 60.0) -> UidLease:
        """Claim a free uid (waiting up to ``timeout_s``); sweeps it if its last job was dirty."""
        deadline = time.monotonic() + timeout_s
        with self._cond:
            while True:
                for slot in range(self.size):
                    uid = self.base + slot
                    if uid in self._held:
                        continue
                    lease = self._try_lock(uid)
                    if lease is not None:
                        self._held.add(uid)
                        break
                else:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        raise TimeoutError(f"all {self.size} sandbox uids are busy")
                    self._cond.wait(min(remaining, 0.05))
                    continue
                break
        with os.fdopen(os.dup(lease.fd), "r+b") as f:
            state = f.read()
            if state != b"clean":
                kill_uid_processes(uid)
            f.seek(0)
            f.truncate()
            f.write(b"dirty")
        return lease

    def _try_lock(self, uid: int) -> UidLease | None:
        fd = os.open(os.path.join(self.lock_dir, str(uid)), os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            return None
        return UidLease(uid, fd)

    def release(self, lease: UidLease, clean: bool) -> None:
        """Give the uid back; ``clean`` says no process of it can be left."""
        if clean:
            os.pwrite(lease.fd, b"clean", 0)
            os.ftruncate(lease.fd, 5)
        with contextlib.suppress(OSError):
            os.close(lease.fd)  # drops the flock
        with self._cond:
            self._held.discard(lease.uid)
            self._cond.notify()
