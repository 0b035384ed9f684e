"""Remove the System V IPC objects (shared memory, message queues, semaphores) of a uid.

Why: SysV IPC objects outlive the processes that made them. A candidate that
calls ``shmget``/``msgget``/``semget`` leaves an object in its IPC namespace
that the next candidate with the same uid can open (a channel between jobs,
and shared memory that nobody frees). Where a job gets its own IPC namespace
(the process sandbox as root) the kernel frees them with the namespace; where
it cannot (a container's job server has no CAP_SYS_ADMIN to unshare), the
server calls :func:`remove_owned` as the job's uid after every job.

Stdlib only (ctypes), Linux only.
"""

from __future__ import annotations

import ctypes
import os

__all__ = ["owned", "remove_owned"]

_IPC_RMID = 0
_KINDS = {"shm": "shmid", "msg": "msqid", "sem": "semid"}


def owned(uid: int) -> list[tuple[str, int]]:
    """``(kind, id)`` of every object in this IPC namespace that ``uid`` owns or created."""
    found = []
    for kind, id_column in _KINDS.items():
        try:
            with open(f"/proc/sysvipc/{kind}") as f:
                header, *rows = f.read().splitlines()
        except OSError:
            continue
        names = header.split()
        at = {name: names.index(name) for name in (id_column, "uid", "cuid")}
        for row in rows:
            cells = row.split()
            try:
                if uid in (int(cells[at["uid"]]), int(cells[at["cuid"]])):
                    found.append((kind, int(cells[at[id_column]])))
            except (IndexError, ValueError):
                continue
    return found


def remove_owned(uid: int) -> bool:
    """Remove ``uid``'s objects (call it as ``uid``: an owner or creator may); True if none left."""
    libc = ctypes.CDLL(None, use_errno=True)
    remove = {
        "shm": lambda i: libc.shmctl(i, _IPC_RMID, None),
        "msg": lambda i: libc.msgctl(i, _IPC_RMID, None),
        "sem": lambda i: libc.semctl(i, 0, _IPC_RMID, 0),
    }
    for kind, ident in owned(uid):
        remove[kind](ident)
    # A removed shared memory segment still attached somewhere stays listed
    # (with the "dest" mark) until detached: every process of the uid is dead
    # by now, so anything still listed is a failure.
    return not owned(uid) if os.path.exists("/proc/sysvipc") else True
