"""Remove the sandbox containers that dead Ray workers left, on every node of the cluster.

A worker killed mid-evaluation (a cancelled task, an OOM-killed or crashed worker
process) cannot close its Docker sandbox. Every Docker sandbox reaps orphans
when it starts, but a node may never start another one; this sweep runs one
zero-CPU task pinned to each live node that removes containers whose owner
process is gone (see :mod:`sandboxes.docker.reaper`).
"""

from __future__ import annotations

import contextlib
import logging

from sandboxes.docker.image import docker_client
from sandboxes.docker.reaper import reap_orphans

__all__ = ["reap_on_every_node"]

log = logging.getLogger(__name__)


def _reap_here() -> int:
    """Reap this node's orphaned sandbox containers; 0 where Docker is not usable."""
    try:
        return reap_orphans(docker_client())
    except Exception as exc:  # no Docker on this node: nothing of ours can be there
        log.debug("no reaping on this node: %s", exc)
        return 0


def reap_on_every_node(timeout_s: float = 20.0) -> int:
    """Run the reaper once on each live node; returns how many containers went."""
    import ray
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    task = ray.remote(num_cpus=0, max_retries=0)(_reap_here)
    refs = [
        task.options(
            scheduling_strategy=NodeAffinitySchedulingStrategy(node["NodeID"], soft=False)
        ).remote()
        for node in ray.nodes()
        if node.get("Alive")
    ]
    ready, _ = ray.wait(refs, num_returns=len(refs), timeout=timeout_s)
    removed = 0
    for ref in ready:
        with contextlib.suppress(Exception):
            removed += ray.get(ref)
    return removed
