"""GPUs for a container: which devices a job may use, as a Docker DeviceRequest.

A problem asks for ``resources.gpus = N``; the worker decides which devices
that means (under Ray, ``ray.get_gpu_ids()`` for the task; on one machine,
``CUDA_VISIBLE_DEVICES`` or the first N). The container gets exactly those
devices through the NVIDIA runtime, and nothing else.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

__all__ = ["GpuError", "assigned_gpu_ids", "device_requests"]


class GpuError(ValueError):
    """The job asks for more GPUs than the worker was given."""


def assigned_gpu_ids(count: int, given: Sequence[str | int] | None = None) -> list[str]:
    """The ``count`` device ids this worker may hand to a job.

    ``given`` is what the scheduler assigned (e.g. ``ray.get_gpu_ids()``);
    without it, ``CUDA_VISIBLE_DEVICES`` if set, else ``0..count-1``.
    """
    if count <= 0:
        return []
    if given is None:
        visible = os.environ.get("CUDA_VISIBLE_DEVICES")
        given = [v for v in visible.split(",") if v.strip()] if visible else list(range(count))
    ids = [str(g).strip() for g in given]
    if len(ids) < count:
        raise GpuError(
            f"the job needs {count} GPU(s) (problem.toml resources.gpus) but this worker was "
            f"given {len(ids)} ({', '.join(ids) or 'none'}); run it on a GPU node "
            "(--executor ray schedules it there) or lower resources.gpus"
        )
    return ids[:count]


def device_requests(ids: Sequence[str]) -> list[Any]:
    """``DeviceRequest`` list for ``docker run --gpus '"device=ids"'`` (empty: no GPU)."""
    if not ids:
        return []
    from docker.types import DeviceRequest

    return [DeviceRequest(driver="nvidia", device_ids=list(ids), capabilities=[["gpu"]])]
