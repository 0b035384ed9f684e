"""The host directories a sandbox keeps its jobs in: private, named by their
owner, and swept when the owner is gone.

A sandbox removes its directory on close (and at interpreter exit), but a
process killed with SIGKILL cannot; its directory kept candidate code and the
problem's scorer files. So each directory is created 0700 and named
``<prefix><pid>-<start>-<random>`` after the owning process (its pid and start
time, so a pid reused by another process does not keep an orphan alive), and
every new sandbox first removes the directories of owners that are gone, as the
Docker reaper does for containers.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import tempfile

from sandboxes._files import rmtree

__all__ = ["make_workdir", "named_owner_alive", "owner_alive", "start_time", "sweep_orphans"]

log = logging.getLogger(__name__)


def start_time(pid: int) -> str:
    """When ``pid`` started (clock ticks since boot; "" if it is gone)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            return f.read().rpartition(b")")[2].split()[19].decode()
    except (OSError, IndexError):
        return ""


def owner_alive(pid: int, started: str = "") -> bool:
    """Whether process ``pid`` still runs (and, given ``started``, is the same process)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    return not started or start_time(pid) in (started, "")


def make_workdir(prefix: str) -> str:
    """A fresh 0700 directory in the temp dir, named after this process."""
    pid = os.getpid()
    path = tempfile.mkdtemp(prefix=f"{prefix}{pid}-{start_time(pid)}-")
    os.chmod(path, 0o700)
    return path


def named_owner_alive(prefix: str, name: str) -> bool:
    """Whether ``name`` (a ``make_workdir(prefix)`` name, or one built from it)
    belongs to a process that still runs; False for a name of another form."""
    match = re.match(re.escape(prefix) + r"(\d+)-(\d*)-", name)
    return match is not None and owner_alive(int(match.group(1)), match.group(2))


def sweep_orphans(prefix: str) -> int:
    """Remove the directories ``make_workdir(prefix)`` made for owners that are gone
    (only ours: owned by this uid); returns how many went."""
    pattern = re.compile(re.escape(prefix) + r"(\d+)-(\d*)-")
    root = tempfile.gettempdir()
    removed = 0
    with contextlib.suppress(OSError):
        for name in os.listdir(root):
            match = pattern.match(name)
            path = os.path.join(root, name)
            if match is None or os.path.islink(path):
                continue
            with contextlib.suppress(OSError):
                if os.lstat(path).st_uid != os.geteuid():
                    continue
                if owner_alive(int(match.group(1)), match.group(2)):
                    continue
                log.info("removing %s: its owner (pid %s) is gone", path, match.group(1))
                rmtree(path)
                removed += 1
    return removed
