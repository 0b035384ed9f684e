"""The resident job server inside a warm sandbox container.

The host starts a container whose main process is this server (as the
container's root, with only the SETUID, SETGID and KILL capabilities and
no-new-privileges). It listens on a unix socket in ``/ctl`` (a host directory
bind-mounted with mode 0700, so only this root reaches it), accepts the host's
one connection, and then serves jobs exactly like :mod:`evaluators.forkserver`:
one forked supervisor per job (:func:`evaluators.supervisor.run_job`), which
drops the candidate to the job's unprivileged uid with its own rlimits and
deadline, kills every process of that uid when the job ends and reports the
envelope over a reply socket the candidate never sees.

Around each job this server also:

* creates the job's scratch directory under the ``/scratch`` tmpfs *as the
  job's uid* with the candidate's uid as its group (effective ids only: no
  CAP_CHOWN needed, no extra fork), and
* afterwards, as each of the two uids, removes every file the uid owns in the
  writable places (``/scratch``, ``/dev/shm``, ``/dev/mqueue``) and every
  System V IPC object it owns or created (this server cannot give each job an
  IPC namespace of its own), so nothing a candidate leaves is visible to the
  next one. If that fails, the server stops: the host sees
  the container die and replaces it.

Stdlib only, like the rest of ``evaluators``.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import stat
import sys
from collections.abc import Iterator
from typing import Any

from evaluators import _ipc, forkserver

__all__ = ["WRITABLE_ROOTS", "main"]

WRITABLE_ROOTS = ("/scratch", "/dev/shm", "/dev/mqueue")


@contextlib.contextmanager
def _acting_as(uid: int, gid: int | None = None) -> Iterator[None]:
    """Act as ``uid`` (and group ``gid``, default the same; effective ids only) for
    the duration; then root again.

    No fork: this is the job's own throwaway child. It is safe because no
    process of ``uid`` is alive while it holds these ids (before the job, the
    uid is fresh; after it, the supervisor has killed them all), and with the
    real and saved ids still 0 no such process could signal or trace it anyway.
    """
    os.setegid(uid if gid is None else gid)
    os.seteuid(uid)
    try:
        yield
    finally:
        os.seteuid(0)  # the permitted capabilities come back with euid 0
        os.setegid(0)


def _remove_owned(root: str, uid: int) -> bool:
    """Remove everything ``uid`` owns under ``root`` (as ``uid``); True if none is left."""
    left = False
    for dirpath, dirnames, filenames in os.walk(root, topdown=False):
        for name in filenames + dirnames:
            path = os.path.join(dirpath, name)
            try:
                info = os.lstat(path)
            except FileNotFoundError:
                continue
            if info.st_uid != uid:
                continue
            try:
                if stat.S_ISDIR(info.st_mode):
                    os.rmdir(path)
                else:
                    os.unlink(path)
            except OSError:
                left = True
    return not left


def _open_up(root: str, uid: int) -> None:
    """Give ``uid``'s own directories back their write bit (a candidate may chmod 000)."""
    for dirpath, dirnames, _ in os.walk(root):
        for name in dirnames:
            path = os.path.join(dirpath, name)
            with contextlib.suppress(OSError):
                if os.lstat(path).st_uid == uid:
                    os.chmod(path, 0o700)


def wipe(uid: int) -> bool:
    """As ``uid``: delete every file and SysV IPC object it owns in the writable places."""
    try:
        with _acting_as(uid):
            ok = _ipc.remove_owned(uid)
            for root in WRITABLE_ROOTS:
                if os.path.isdir(root):
                    _open_up(root, uid)
                    ok = _remove_owned(root, uid) and ok
            return ok
    except Exception:  # anything unexpected: treat the container as dirty
        return False


def _run_in_container(spec: dict[str, Any]) -> bytes:
    uid = int(spec["uid"])
    candidate = int(spec.get("candidate_uid") or uid)
    scratch = spec["scratch_dir"]
    os.setgroups([])  # root's supplementary groups must not count while acting as uid
    with _acting_as(uid, candidate):
        # Owned by the scorer's uid, group the candidate's (the two share it),
        # without CAP_CHOWN: the effective ids pick owner and group.
        os.mkdir(scratch, 0o700)
        os.chmod(scratch, 0o770)
    try:
        return forkserver.run_spec(spec)
    finally:
        if not all([wipe(u) for u in {uid, candidate}]):
            # Something of the candidate's survived: this container must not
            # serve another job. The host sees the server gone and replaces it.
            os.kill(os.getppid(), signal.SIGKILL)


def main() -> None:
    """Listen on ``argv[1]``, accept the host, serve jobs until it disconnects."""
    path = sys.argv[1] if len(sys.argv) > 1 else "/ctl/server.sock"
    if sys.path and sys.path[0] in ("", "."):
        del sys.path[0]
    os.umask(0o077)
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    listener.bind(path)
    listener.listen(1)
    control, _ = listener.accept()
    listener.close()
    os.unlink(path)  # one host connection per container, ever
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    forkserver.serve(control, run=_run_in_container)
    os._exit(0)


if __name__ == "__main__":
    main()
