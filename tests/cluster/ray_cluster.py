"""A Ray cluster of a few one-CPU nodes on this machine (Ray's own multi-node test cluster).

Not a conftest.py: a conftest in a test folder would shadow the root one that tests import
(``from conftest import ...``)."""

from __future__ import annotations

import pytest

ray = pytest.importorskip("ray")
cluster_utils = pytest.importorskip("ray.cluster_utils")

NODE_LABEL = (
    "kiln-test-node"  # a custom resource each worker node has one of, as an instance-type label would
)


def start_cluster(workers: int, labels: dict[int, dict[str, float]] | None = None) -> cluster_utils.Cluster:
    """A head node that runs nothing (0 CPUs: removing a worker never takes the cluster's GCS with it)
    and ``workers`` nodes of one CPU each; ``labels`` gives worker ``i`` (from 0) custom resources of
    its own besides NODE_LABEL (as `ray start --resources` would)."""
    cluster = cluster_utils.Cluster(
        initialize_head=True,
        head_node_args={"num_cpus": 0, "include_dashboard": False},
    )
    for i in range(workers):
        cluster.add_node(num_cpus=1, resources={NODE_LABEL: 1, **(labels or {}).get(i, {})})
    cluster.wait_for_nodes()
    return cluster
