"""Thin ctypes wrappers for the Linux calls Python 3.11's ``os`` lacks.

prctl (subreaper, parent-death signal, no-new-privs, dumpable), unshare and
mount. Each returns normally or raises OSError with the errno, so callers can
decide whether a missing feature is fatal or only a weaker guarantee.
Importing this module off Linux is harmless; calling it raises OSError.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
from collections.abc import Iterator

PR_SET_PDEATHSIG = 1
PR_SET_DUMPABLE = 4
PR_SET_CHILD_SUBREAPER = 36
PR_SET_NO_NEW_PRIVS = 38

CLONE_NEWNS = 0x00020000
CLONE_NEWIPC = 0x08000000
CLONE_NEWNET = 0x40000000
CLONE_NEWPID = 0x20000000

MS_RDONLY = 1
MS_NOSUID = 2
MS_NODEV = 4
MS_NOEXEC = 8
MS_REMOUNT = 32
MS_NOATIME = 1024
MS_NODIRATIME = 2048
MS_BIND = 4096
MS_REC = 16384
MS_PRIVATE = 1 << 18
MS_RELATIME = 1 << 21

_libc: ctypes.CDLL | None = None


def _c() -> ctypes.CDLL:
    global _libc
    if _libc is None:
        # The running interpreter already links libc; find_library would spawn ldconfig.
        lib = ctypes.CDLL(None, use_errno=True)
        lib.prctl.argtypes = [ctypes.c_int] + [ctypes.c_ulong] * 4
        lib.unshare.argtypes = [ctypes.c_int]
        lib.mount.argtypes = [ctypes.c_char_p] * 3 + [ctypes.c_ulong, ctypes.c_char_p]
        _libc = lib
    return _libc


def _check(result: int, what: str) -> None:
    if result != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def load() -> None:
    """Resolve libc now (a fork server does this once, before forking jobs)."""
    _c()


def prctl(option: int, arg: int = 0) -> None:
    _check(_c().prctl(option, arg, 0, 0, 0), f"prctl({option})")


def set_child_subreaper() -> None:
    """Orphaned descendants reparent to us, so none can leave our subtree."""
    prctl(PR_SET_CHILD_SUBREAPER, 1)


def set_parent_death_signal(signum: int) -> None:
    prctl(PR_SET_PDEATHSIG, signum)


def set_no_new_privs() -> None:
    """setuid binaries no longer raise privileges after exec."""
    prctl(PR_SET_NO_NEW_PRIVS, 1)


def set_undumpable() -> None:
    """Same-uid processes can no longer ptrace us or open /proc/<pid>/fd/*."""
    prctl(PR_SET_DUMPABLE, 0)


def set_dumpable() -> None:
    """Undo a change of ids' undumpable flag (see evaluators._zygote)."""
    prctl(PR_SET_DUMPABLE, 1)


CAP_SYS_PTRACE = 19


@contextlib.contextmanager
def file_system_ids(uid: int | None) -> Iterator[None]:
    """File-system uid and gid set to ``uid`` meanwhile (root only; None: as
    we are): where the supervisor lacks CAP_SYS_PTRACE (Docker) the kernel lets
    only the same uid read a (dumpable) process's memory (evaluators._monitor)."""
    if uid is None or os.geteuid() != 0:
        yield
        return
    _c().setfsgid(uid)
    _c().setfsuid(uid)
    try:
        yield
    finally:
        _c().setfsuid(0)
        _c().setfsgid(0)


def capability_bounded(cap: int) -> bool:
    """Whether ``cap`` is in this process's bounding set (``CapBnd``): whether
    root here may hold it at all (Docker's default set has no CAP_SYS_PTRACE)."""
    with open("/proc/self/status", "rb") as f:
        for line in f:
            if line.startswith(b"CapBnd:"):
                return bool(int(line.split()[1], 16) >> cap & 1)
    return False


def unshare(flags: int) -> None:
    _check(_c().unshare(flags), f"unshare({flags:#x})")


def mount(source: str, target: str, fstype: str | None, flags: int, data: str | None) -> None:
    _check(
        _c().mount(
            source.encode(),
            target.encode(),
            fstype.encode() if fstype else None,
            flags,
            data.encode() if data else None,
        ),
        f"mount {target}",
    )
