"""How many evaluations a Ray cluster can run at once, for one problem's resources.

The pipeline's K follows it when a run names no ``--concurrency``: what the
alive nodes offer (``ray.cluster_resources()``: CPUs, GPUs, memory and the
``evolve_slots`` custom resource when defined), divided by what one job asks
for, the scarcest resource deciding. Read again at most every
``REFRESH_S`` seconds, so nodes that join or leave change K within a second or
two without a call to the cluster per scheduling decision.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping

from sandboxes.job import Resources

__all__ = ["REFRESH_S", "ClusterCapacity", "jobs_that_fit"]

REFRESH_S = 1.0


def jobs_that_fit(cluster: Mapping[str, float], resources: Resources, slot_resource: str) -> int:
    """Jobs of ``resources`` that ``cluster`` (resource name -> total) holds at
    once; at least 1, so a run on a cluster that is still starting proceeds."""
    asks = {"CPU": resources.cpus, "memory": float(resources.memory_mb << 20)}
    if resources.gpus:
        asks["GPU"] = float(resources.gpus)
    if slot_resource in cluster:
        asks[slot_resource] = 1.0
    fits = min(math.floor(cluster.get(name, 0.0) / need + 1e-9) for name, need in asks.items())
    return max(1, fits)


class ClusterCapacity:
    """``jobs_that_fit`` for the live cluster, cached for ``REFRESH_S`` seconds."""

    def __init__(
        self,
        read_cluster: Callable[[], Mapping[str, float]],
        resources: Resources,
        slot_resource: str,
    ) -> None:
        self._read = read_cluster
        self._resources = resources
        self._slot = slot_resource
        self._value = 1
        self._read_at = -math.inf

    def __call__(self) -> int:
        now = time.monotonic()
        if now - self._read_at >= REFRESH_S:
            self._value = jobs_that_fit(self._read(), self._resources, self._slot)
            self._read_at = now
        return self._value
