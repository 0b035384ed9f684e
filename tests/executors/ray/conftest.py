"""One simulated Ray cluster for the whole session: a head and two workers.

Node "gpu" advertises one (fake) GPU and the custom resource ``gpu_node``;
node "cpu" has CPUs only. Both cap concurrent sandboxes with ``evolve_slots``
(1 and 2). The head has no CPUs, so every job runs on a worker.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

# evolve_slots caps concurrent sandboxes per node below what the CPUs would allow.
GPU_NODE_RESOURCES = {"gpu_node": 1, "evolve_slots": 1}
CPU_NODE_RESOURCES = {"evolve_slots": 2}


@dataclass
class SimCluster:
    cluster: Any
    gpu_node: Any
    cpu_node: Any

    def node_id(self, node: Any) -> str:
        return node.node_id


@pytest.fixture(scope="session")
def sim_cluster() -> Iterator[SimCluster]:
    import ray
    from ray.cluster_utils import Cluster

    cluster = Cluster(
        initialize_head=True,
        head_node_args={"num_cpus": 0, "include_dashboard": False},
    )
    gpu_node = cluster.add_node(num_cpus=2, num_gpus=1, resources=GPU_NODE_RESOURCES)
    cpu_node = cluster.add_node(num_cpus=2, resources=CPU_NODE_RESOURCES)
    cluster.wait_for_nodes()
    ray.init(address=cluster.address, log_to_driver=False)
    try:
        yield SimCluster(cluster, gpu_node, cpu_node)
    finally:
        ray.shutdown()
        cluster.shutdown()
        # Worker processes die with the cluster and cannot clean up; their Docker
        # containers are found by label (owner pid gone) and removed.
        from sandboxes.docker.image import docker_client
        from sandboxes.docker.reaper import reap_orphans

        reap_orphans(docker_client())
