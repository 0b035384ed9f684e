"""The Ray executor: evaluations as Ray tasks across a cluster.

``executor`` submits jobs and collects results in completion order; ``worker``
is what runs on a Ray worker (a warm sandbox per worker process); ``reaper``
sweeps every node for containers that killed workers left. Imports
``sandboxes`` and the executor protocol's types only: workers never see the
database, the store or an LLM. Ray itself is imported when first used, so
importing this package costs nothing on a run that does not use Ray.
"""

from evolve.executors.ray.executor import SLOT_RESOURCE, RayExecutor, connect
from evolve.executors.ray.reaper import reap_on_every_node
from evolve.executors.ray.worker import WorkerReply, WorkerSandbox, evaluate_job

__all__ = [
    "SLOT_RESOURCE",
    "RayExecutor",
    "WorkerReply",
    "WorkerSandbox",
    "connect",
    "evaluate_job",
    "reap_on_every_node",
]
