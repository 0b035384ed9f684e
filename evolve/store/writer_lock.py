"""One writer per run: the lock a run's writing process holds.

A second writer (a resume, ``evolve propose``, a branch into the same
directory, while the run still runs) would delete the first one's uncommitted
files as crash leftovers and interleave its commits. So the process that
writes a run holds ``RUN/.writer.lock``: a POSIX record lock, released when
the process ends however it ends (kill -9 included), and shared within one
process (a test or a notebook may open the same run twice). The file holds the
holder's pid, for the message a second writer gets.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from evolve.errors import StoreError

__all__ = ["WRITER_LOCK", "lock_writer"]

WRITER_LOCK = ".writer.lock"


def lock_writer(root: Path) -> int:
    """Take the run's writer lock; its file descriptor (close it to let go).
    Raises ``StoreError`` naming the holder's pid when another process has it."""
    fd = os.open(Path(root) / WRITER_LOCK, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        holder = os.pread(fd, 64, 0).decode("ascii", "replace").strip() or "unknown"
        os.close(fd)
        raise StoreError(
            f"{root}: another evolve process (pid {holder}) is writing this run; "
            "stop it first (Ctrl-C lets it finish and save), or wait for it to end"
        ) from None
    os.ftruncate(fd, 0)
    os.pwrite(fd, str(os.getpid()).encode("ascii"), 0)
    return fd
