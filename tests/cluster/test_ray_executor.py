"""The Ray executor keeps the executor contract, on a cluster of two one-CPU nodes."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from tests.cluster.ray_cluster import start_cluster

from kiln.executors import Executor, GroupNotPlaced, UnitResources
from kiln.executors.ray import NAMESPACE, RayExecutor
from kiln.testing.executors import ExecutorConformance

ray = pytest.importorskip("ray")

pytestmark = pytest.mark.ray

LINGER_SECONDS = 20.0  # ended units' actors leave soon: the machine is small


@pytest.fixture(scope="module")
def ray_cluster() -> Iterator[Any]:
    cluster = start_cluster(2)
    yield cluster
    if ray.is_initialized():
        ray.shutdown()
    cluster.shutdown()


@pytest.fixture(scope="module")
def connected(ray_cluster) -> Iterator[None]:  # type: ignore[no-untyped-def]
    ray.init(address=ray_cluster.address, namespace=NAMESPACE, log_to_driver=False)
    yield
    ray.shutdown()


def _executor() -> RayExecutor:
    return RayExecutor(placement_timeout_seconds=20.0, linger_seconds=LINGER_SECONDS)


@pytest.fixture
def executor(connected: None) -> Executor:
    return _executor()


@pytest.fixture
def reattach(connected: None) -> Callable[[], Executor]:
    return _executor


class TestRayExecutor(ExecutorConformance):
    pass


def test_the_inventory_is_the_clusters_alive_nodes(executor: Executor) -> None:
    machine = executor.inventory()

    assert len(machine.cpus) == 2  # the head holds none
    assert machine.largest_node_cpus == 1
    nodes = [n for n in executor.nodes() if n["alive"]]
    assert sorted(n["cpus"] for n in nodes) == [0.0, 1.0, 1.0]
    assert sum(n["resources"].get("kiln-test-node", 0) for n in nodes) == 2


def test_a_group_spreads_one_unit_per_node_and_answers_its_rendezvous_on_the_first(
    executor: Executor,
) -> None:
    placement = executor.place_group([UnitResources(cpus=1), UnitResources(cpus=1)])
    try:
        assert len(set(placement.nodes)) == 2  # STRICT_SPREAD: there are as many nodes as units
        assert placement.rendezvous[0] == placement.addresses[0]
    finally:
        executor.release_placement(placement)


def test_a_group_that_does_not_fit_is_not_placed_and_holds_nothing() -> None:
    executor = RayExecutor(placement_timeout_seconds=1.0, linger_seconds=LINGER_SECONDS)
    with pytest.raises(GroupNotPlaced, match="no room"):
        executor.place_group([UnitResources(cpus=1)] * 3)
    # Nothing was kept: the two nodes' CPUs are free for a group that fits.
    placement = executor.place_group([UnitResources(cpus=1)] * 2)
    executor.release_placement(placement)
