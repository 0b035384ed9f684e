"""A private filesystem view for one job (root only, inside a new mount namespace).

Goal: the candidate's uid can write nowhere on the host. ``/tmp``, ``/var/tmp``
and ``/dev/shm`` get fresh size-capped tmpfs mounts; the job directory and the
evaluators library are bind-mounted back read-only at their own paths; the
scratch directory becomes a small tmpfs owned by the job's uid.

Every other mount is then remounted read-only (``/proc``, ``/sys`` and
``/dev`` aside), so no world-writable host directory (``/run/lock``...) stays
writable either.

Nor readable, where it holds host data rather than the system: every top-level
directory but the system's (``/usr``, ``/etc``, ``/lib*``, ``/bin``...) is
covered with an empty tmpfs (``/home``, ``/root``, ``/srv``, ``/opt``, ``/var``,
``/run``, a checkout under ``/work``...), so a candidate cannot read a problem's
files, a run directory or anything else of the host's; only the subtrees a job
needs are bound back (read-only) through the covers.

Second goal: the interpreter stays reachable. Python may live under a
directory the job's uid cannot traverse (pyenv under a 0700 ``/root``). Such a
directory is covered with a tmpfs too and only the needed subtrees (prefix,
site-packages) are bind-mounted back, read-only, so the uid can run Python
without seeing the rest of that directory.
"""

from __future__ import annotations

import os
import re
import stat
import sys

from evaluators import _linux

__all__ = ["host_data_roots", "isolate", "python_paths", "unreachable"]

TMP_DIRS = ("/tmp", "/var/tmp", "/dev/shm")
# Top-level directories of the system itself, left visible (read-only); every
# other one holds host data and is covered. /nix and /gnu are stores of the
# system's own files on the distributions that use them.
SYSTEM_DIRS = frozenset(
    {"bin", "sbin", "lib", "lib32", "lib64", "libx32", "usr", "etc", "proc", "sys", "dev"}
    | {"nix", "gnu"}
)


def host_data_roots() -> list[str]:
    """The top-level directories that hold host data (see the module docstring)."""
    roots = []
    for name in sorted(os.listdir("/")):
        path = "/" + name
        if name in SYSTEM_DIRS or os.path.islink(path) or not os.path.isdir(path):
            continue
        roots.append(path)
    return roots


def _within(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip("/") + "/")


def _ancestors(path: str) -> list[str]:
    """'/a/b/c' -> ['/', '/a', '/a/b'] (not the path itself)."""
    parts = path.strip("/").split("/")
    return ["/"] + ["/" + "/".join(parts[:i]) for i in range(1, len(parts))]


def _others_may(path: str, bits: int) -> bool:
    try:
        return os.stat(path).st_mode & bits == bits
    except OSError:
        return False


def _closed_ancestor(path: str) -> str | None:
    """The shallowest ancestor of ``path`` that other users cannot traverse."""
    for ancestor in _ancestors(path):
        if ancestor != "/" and not _others_may(ancestor, stat.S_IXOTH):
            return ancestor
    return None


def unreachable(paths: list[str]) -> list[str]:
    """Paths an unrelated uid could not open (a closed ancestor, or the path itself)."""
    bad = []
    for path in paths:
        bits = stat.S_IROTH | (stat.S_IXOTH if os.path.isdir(path) else 0)
        if _closed_ancestor(path) is not None or not _others_may(path, bits):
            bad.append(path)
    return bad


def _outermost(paths: list[str]) -> list[str]:
    """Drop paths nested in another one of ``paths``."""
    unique = sorted(set(paths), key=len)
    kept: list[str] = []
    for path in unique:
        if not any(_within(path, k) for k in kept):
            kept.append(path)
    return kept


def python_paths(sys_path: list[str]) -> list[str]:
    """Directories the interpreter needs: its prefixes and import path entries.

    The directory of ``sys.executable`` is included as named, not resolved: a
    venv's ``bin/python`` is a symlink, and a scorer that runs ``sys.executable``
    needs the link itself (and the venv's ``pyvenv.cfg`` beside ``bin/``, which
    is how the interpreter finds the venv's site-packages). Without this a venv
    under ``/tmp`` (a CI checkout) vanishes behind the private ``/tmp``.
    """
    bin_dir = os.path.dirname(os.path.abspath(sys.executable)) if sys.executable else ""
    venv_root = os.path.dirname(bin_dir) if bin_dir else ""
    if venv_root and os.path.isfile(os.path.join(venv_root, "pyvenv.cfg")):
        bin_dir = venv_root
    candidates = [sys.base_prefix, sys.prefix, sys.exec_prefix, bin_dir, *sys_path]
    real = [os.path.realpath(p) for p in candidates if p and os.path.exists(p)]
    return _outermost(real)


def _mount_tmpfs(target: str, options: str) -> None:
    flags = _linux.MS_NOSUID | _linux.MS_NODEV
    _linux.mount("tmpfs", target, "tmpfs", flags, options)


def _bind_readonly(fd: int, target: str) -> None:
    if not os.path.exists(target):
        os.makedirs(target, mode=0o755, exist_ok=True)
    _linux.mount(f"/proc/self/fd/{fd}", target, None, _linux.MS_BIND | _linux.MS_REC, None)
    flags = _linux.MS_REMOUNT | _linux.MS_BIND | _linux.MS_RDONLY | _linux.MS_NOSUID
    _linux.mount("none", target, None, flags, None)


def isolate(
    job_dir: str, scratch_dir: str, needed: list[str], uid: int, gid: int, tmpfs_mb: int
) -> None:
    """Remount the view described in the module docstring; raises OSError on failure.

    The scratch tmpfs belongs to ``uid`` (the scorer's) with group ``gid`` (the
    candidate's), mode 0770, so both can write there and nobody else can.

    The caller must already be in a new mount namespace (``unshare(CLONE_NEWNS)``).
    """
    _linux.mount("none", "/", None, _linux.MS_REC | _linux.MS_PRIVATE, None)
    os.umask(0o022)
    wanted = _outermost([os.path.realpath(p) for p in [job_dir, *needed] if os.path.exists(p)])
    covers = [d for d in TMP_DIRS if os.path.isdir(d) and not os.path.islink(d)]
    covers += host_data_roots()
    covers += [a for p in wanted if (a := _closed_ancestor(p)) is not None]
    covers = _outermost(covers)
    rebind = [p for p in wanted if any(_within(p, c) and p != c for c in covers)]
    fds = {p: os.open(p, os.O_PATH | os.O_CLOEXEC) for p in rebind}
    try:
        for cover in covers:
            mode = "1777" if cover in TMP_DIRS else "755"
            _mount_tmpfs(cover, f"size={tmpfs_mb}m,nr_inodes=16384,mode={mode}")
        for tmp in TMP_DIRS:  # a temp dir inside a covered root (/var/tmp): fresh and empty
            if tmp not in covers and any(_within(tmp, c) for c in covers):
                os.makedirs(tmp, exist_ok=True)
                os.chmod(tmp, 0o1777)
        for path in sorted(rebind, key=len):
            _bind_readonly(fds[path], path)
    finally:
        for fd in fds.values():
            os.close(fd)
    job_real = os.path.realpath(job_dir)
    if not any(_within(job_real, p) for p in rebind):  # visible in place: still make it read-only
        _bind_readonly_in_place(job_real)
    _mount_tmpfs(scratch_dir, f"size={tmpfs_mb}m,nr_inodes=16384,mode=770,uid={uid},gid={gid}")
    _remount_rest_readonly(
        {*covers, *rebind, job_real, os.path.realpath(scratch_dir)}, covers, rebind
    )


_KEPT_FLAGS = {
    "nosuid": _linux.MS_NOSUID,
    "nodev": _linux.MS_NODEV,
    "noexec": _linux.MS_NOEXEC,
    "noatime": _linux.MS_NOATIME,
    "nodiratime": _linux.MS_NODIRATIME,
    "relatime": _linux.MS_RELATIME,
}
_KERNEL_TREES = ("/proc", "/sys", "/dev")  # virtual; no world-writable host data there


def _unescape(field: str) -> str:
    """mountinfo escapes space, tab, newline and backslash as octal."""
    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), field)


def _remount_rest_readonly(ours: set[str], covers: list[str], rebind: list[str]) -> None:
    """Every other mount read-only, so world-writable host dirs (/run/lock...) are not.

    A mount inside a cover and outside everything bound back is hidden (and out
    of reach by its path): it is skipped, not remounted, so an unrelated mount
    under /var or /tmp can never stop the setup part-way."""
    with open("/proc/self/mountinfo", encoding="utf-8", errors="surrogateescape") as f:
        lines = f.read().splitlines()
    for line in lines:
        fields = line.split()
        point, options = _unescape(fields[4]), fields[5].split(",")
        if "ro" in options or point in ours or any(_within(point, t) for t in _KERNEL_TREES):
            continue
        hidden = any(_within(point, c) for c in covers)
        if hidden and not any(_within(point, r) for r in rebind):
            continue
        flags = _linux.MS_REMOUNT | _linux.MS_BIND | _linux.MS_RDONLY
        flags |= sum(bit for name, bit in _KEPT_FLAGS.items() if name in options)
        _linux.mount("none", point, None, flags, None)


def _bind_readonly_in_place(path: str) -> None:
    """Make ``path`` read-only when it was not under a cover (so not rebound yet)."""
    fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
    try:
        _bind_readonly(fd, path)
    finally:
        os.close(fd)
