"""The scheduler over a cluster's inventory, which changes as nodes join and leave (``elastic``).

A real SQLite database; the cluster is a plain value: nodes of one CPU and 4 GiB each.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from kiln.config import CapacitySettings
from kiln.metadata import Database
from kiln.records import CapacityUse, ReservationState
from kiln.scheduler import CpuPool, Machine, Scheduler, resolve_catalog, resolve_limits

GIB = 1024**3
TRAINING = CapacityUse.TRAINING


def _cluster(nodes: int, cpus_per_node: int = 1) -> Machine:
    return Machine(
        cpus=tuple(range(nodes * cpus_per_node)),
        memory_bytes=nodes * 4 * GIB,
        gpus=(),
        largest_node_cpus=cpus_per_node if nodes else 0,
        largest_node_memory_bytes=4 * GIB if nodes else 0,
    )


def _scheduler(db: Database, machine: Machine, *, strict: bool = False) -> Scheduler:
    capacity = CapacitySettings(source="test.toml")
    catalog = resolve_catalog(capacity, cpus=len(machine.cpus), memory_gib=machine.memory_gib, gpus=0)
    limits = resolve_limits(capacity, catalog)
    return Scheduler(db, catalog, limits, CpuPool(machine, 1.0), strict=strict, elastic=True)


@pytest.fixture
def db(tmp_path: Path) -> Database:
    database = Database(f"sqlite:///{tmp_path / 'kiln.db'}")
    database.migrate()
    return database


def test_a_job_larger_than_the_cluster_waits_for_nodes_and_starts_when_they_join(db: Database) -> None:
    scheduler = _scheduler(db, _cluster(1))
    admitted: list[str] = []
    scheduler.on_admitted(lambda r: admitted.append(r.owner))

    waiting = scheduler.reserve(TRAINING, "training-job/big", "ml.m5.large", 3)

    # Not scaled down to the one node's CPU in all: each host to the largest node, the count kept.
    assert waiting.state is ReservationState.PENDING
    assert (waiting.slots, waiting.cpus_per_instance) == (3, 1)
    assert waiting.message == "waiting for a node to join: needs 3 CPUs (3 × 1), the cluster has 1 in all"
    assert scheduler.update_machine(_cluster(2)) == []  # still too small
    assert admitted == []

    now = scheduler.update_machine(_cluster(3))

    assert [r.owner for r in now] == admitted == ["training-job/big"]
    assert scheduler.snapshot().free_slots == 0


def test_in_strict_mode_a_host_larger_than_every_node_waits_for_a_node_that_large(db: Database) -> None:
    scheduler = _scheduler(db, _cluster(2), strict=True)

    waiting = scheduler.reserve(TRAINING, "training-job/wide", "ml.m5.large", 1)

    assert waiting.state is ReservationState.PENDING
    assert waiting.message == "waiting for a node to join: needs a node with 2 CPUs, the largest node has 1"
    # Two CPUs in all are not enough: they are on two nodes.
    assert scheduler.update_machine(_cluster(3)) == []
    assert [r.owner for r in scheduler.update_machine(_cluster(2, cpus_per_node=2))] == ["training-job/wide"]


def test_a_shrinking_cluster_keeps_every_reservation_and_admits_nothing_until_room_is_back(
    db: Database,
) -> None:
    scheduler = _scheduler(db, _cluster(3))
    running = scheduler.reserve(TRAINING, "training-job/running", "ml.m5.large", 3)
    assert running.state is ReservationState.ACTIVE

    scheduler.update_machine(_cluster(2))  # a node left while the job holds three CPUs
    later = scheduler.reserve(TRAINING, "training-job/later", "ml.m5.large", 1)

    assert scheduler.find("training-job/running") == running
    assert later.state is ReservationState.PENDING
    assert scheduler.snapshot().free_slots == 0
    # The running job ends: its three CPUs go back to a cluster of two, and the waiting job starts.
    scheduler.release("training-job/running")
    assert scheduler.find("training-job/later").state is ReservationState.ACTIVE  # type: ignore[union-attr]
    assert scheduler.snapshot().free_slots == 1


def test_the_same_inventory_again_changes_nothing(db: Database) -> None:
    scheduler = _scheduler(db, _cluster(2))
    before = scheduler.snapshot()

    assert scheduler.update_machine(_cluster(2)) == []
    assert scheduler.snapshot() == before
