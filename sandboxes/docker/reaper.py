"""Find and remove sandbox containers nobody owns any more.

Every container we start carries labels: ``evolve.sandbox=1``, the owner
(``host:pid`` of the process whose sandbox started it, and that process's
start time, so a pid reused by another process does not keep an orphan
alive), the run and the slot.
A sandbox removes its own containers on close (and at interpreter exit); a
process killed with SIGKILL cannot, so every new sandbox first reaps the
containers of owners on this host that are gone, and any stopped one.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
from typing import Any

from sandboxes._workdirs import owner_alive, start_time

__all__ = ["LABEL", "OWNER_LABEL", "labels_for", "owner_id", "reap_orphans", "remove_owned"]

log = logging.getLogger(__name__)

LABEL = "evolve.sandbox"
OWNER_LABEL = "evolve.owner"
OWNER_START_LABEL = "evolve.owner_start"
RUN_LABEL = "evolve.run"
SLOT_LABEL = "evolve.slot"
JOB_LABEL = "evolve.job"


def owner_id(pid: int | None = None) -> str:
    """``hostname:pid`` of the owning process (this one by default)."""
    return f"{socket.gethostname()}:{os.getpid() if pid is None else pid}"


def labels_for(run: str, slot: int, job: str) -> dict[str, str]:
    """The labels of a container started by this process."""
    return {
        LABEL: "1",
        OWNER_LABEL: owner_id(),
        OWNER_START_LABEL: start_time(os.getpid()),
        RUN_LABEL: run,
        SLOT_LABEL: str(slot),
        JOB_LABEL: job,
    }


def _owner_alive(owner: str, started: str = "") -> bool:
    """Whether the owner process still runs (``started``: its start time, if labelled)."""
    host, _, pid = owner.rpartition(":")
    if host != socket.gethostname():
        return True  # another machine's daemon user: not ours to judge
    try:
        return owner_alive(int(pid), started)
    except ValueError:
        return True


def _remove(container: Any) -> bool:
    with contextlib.suppress(Exception):
        container.remove(force=True)
        return True
    return False


def reap_orphans(client: Any) -> int:
    """Remove our containers whose owner process is gone, or that exited; returns how many."""
    removed = 0
    for container in client.containers.list(all=True, filters={"label": f"{LABEL}=1"}):
        owner = container.labels.get(OWNER_LABEL, "")
        started = container.labels.get(OWNER_START_LABEL, "")
        # Stopped ones are of no use to anyone; running, paused or just-created
        # ones belong to their owner while it lives.
        if container.status in ("exited", "dead") or not _owner_alive(owner, started):
            removed += _remove(container)
    if removed:
        log.info("docker sandbox: removed %d container(s) left behind", removed)
    return removed


def remove_owned(client: Any, owner: str | None = None) -> int:
    """Remove every container of ``owner`` (this process by default)."""
    owner = owner or owner_id()
    filters = {"label": [f"{LABEL}=1", f"{OWNER_LABEL}={owner}"]}
    return sum(_remove(c) for c in client.containers.list(all=True, filters=filters))
