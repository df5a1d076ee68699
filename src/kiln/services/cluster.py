"""The cluster as people see it: the executor's nodes, what each holds, and what runs where.

Nodes come from the executor (the one machine for ``local``, Ray's node table for ``ray``). What
runs where comes from Kiln's own records: a training or processing job's hosts store the node the
executor placed them on; an endpoint instance's node is read from its handle. What a unit holds is its
instance type's share as the scheduler granted it (the same amounts the executor reserved for it), so a
node's holdings are the sum over the units on it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from kiln import metadata
from kiln.errors import KilnError
from kiln.executors import Executor
from kiln.metadata import Database
from kiln.records import HostState, InstanceGrant, Reservation, ReservationState, TrainingJob
from kiln.scheduler import Scheduler
from kiln.services.job_admission import job_owner

__all__ = ["ClusterNode", "ClusterService", "ClusterView", "NodeUnit", "WaitingWork"]

ENDPOINTS_LISTED_MAX = 10_000  # every endpoint: a cluster view leaves none out


@dataclass(frozen=True)
class NodeUnit:
    """One process Kiln started: a job's host or an endpoint's instance, and what it holds."""

    kind: str  # "training-job", "processing-job" or "endpoint"
    name: str  # the job's or the endpoint's name
    unit: str  # the host ("algo-1") or the instance id
    state: str
    node: str | None  # as the executor names it; None where nothing records it
    cpus: float
    memory_bytes: int | None  # None: no cap
    gpus: int


@dataclass(frozen=True)
class ClusterNode:
    name: str
    address: str
    alive: bool
    cpus: float
    memory_bytes: int
    gpus: float
    resources: dict[str, float]  # the node's custom resources (an instance-type label, …)
    units: tuple[NodeUnit, ...] = ()

    @property
    def held_cpus(self) -> float:
        return sum(u.cpus for u in self.units)

    @property
    def held_memory_bytes(self) -> int:
        return sum(u.memory_bytes or 0 for u in self.units)

    @property
    def held_gpus(self) -> int:
        return sum(u.gpus for u in self.units)


@dataclass(frozen=True)
class WaitingWork:
    """A reservation in the scheduler's queue: work that waits for room."""

    owner: str
    use: str
    instance_type: str
    instance_count: int
    message: str


@dataclass(frozen=True)
class ClusterView:
    executor: str
    server_node: str  # the node the server runs on (endpoint instances run there today)
    nodes: tuple[ClusterNode, ...]
    # Units whose recorded node is not among the executor's nodes (a node that left the cluster).
    elsewhere: tuple[NodeUnit, ...] = ()
    waiting: tuple[WaitingWork, ...] = ()  # reservations in the scheduler's queue, in its order


def _share(reservation: Reservation | None, grant: InstanceGrant | None) -> tuple[float, int | None, int]:
    """(CPUs, memory bytes, GPUs) one unit holds: its instance type's share, as the host launcher
    hands it to the executor; nothing known when its reservation has already been released."""
    if reservation is None:
        return 0.0, None, 0
    granted_cpus = grant.num_cpus if grant is not None else 0
    memory = grant.memory_bytes if grant is not None else reservation.memory_bytes
    return float(max(1, reservation.cpus_per_instance or granted_cpus)), memory, reservation.gpus_per_instance


@dataclass
class ClusterService:
    db: Database
    scheduler: Scheduler
    executor: Executor

    def view(self) -> ClusterView:
        live = self.scheduler.live()
        by_owner = {r.owner: r for r in live if r.state is ReservationState.ACTIVE}
        units = [*self._host_units(by_owner), *self._endpoint_units(by_owner)]
        nodes = [self._node(entry, units) for entry in self.executor.nodes()]
        known = {n.name for n in nodes}
        waiting = tuple(
            WaitingWork(r.owner, r.use.value, r.instance_type, r.instance_count, r.message)
            for r in live
            if r.state is ReservationState.PENDING
        )
        return ClusterView(
            executor=self.executor.name,
            server_node=self.executor.node_name(),
            nodes=tuple(nodes),
            elsewhere=tuple(u for u in units if u.node not in known),
            waiting=waiting,
        )

    @staticmethod
    def _node(entry: dict[str, Any], units: Iterable[NodeUnit]) -> ClusterNode:
        name = str(entry["name"])
        return ClusterNode(
            name=name,
            address=str(entry["address"]),
            alive=bool(entry["alive"]),
            cpus=float(entry["cpus"]),
            memory_bytes=int(entry["memory_bytes"]),
            gpus=float(entry["gpus"]),
            resources={str(k): float(v) for k, v in (entry.get("resources") or {}).items()},
            units=tuple(u for u in units if u.node == name),
        )

    def _host_units(self, by_owner: dict[str, Reservation]) -> list[NodeUnit]:
        found = []
        for job in metadata.list_jobs_with_live_hosts(self.db):
            reservation = by_owner.get(job_owner(job.name))
            for index, host in enumerate(job.hosts):
                if host.handle is None or host.state not in (HostState.LAUNCHING, HostState.RUNNING):
                    continue
                grant = reservation.grants[index] if reservation and index < len(reservation.grants) else None
                cpus, memory, gpus = _share(reservation, grant)
                found.append(
                    NodeUnit(
                        _kind(job),
                        job.name,
                        host.host,
                        host.state.value,
                        host.node or self._node_of(host.handle),
                        cpus,
                        memory,
                        gpus,
                    )
                )
        return found

    def _endpoint_units(self, by_owner: dict[str, Reservation]) -> list[NodeUnit]:
        found = []
        for endpoint in metadata.hosting.list_endpoints(self.db, limit=ENDPOINTS_LISTED_MAX):
            for instance in endpoint.instances:
                if not instance.state.is_live():
                    continue
                reservation = by_owner.get(
                    f"endpoint/{endpoint.name}/{instance.config_name}/{instance.variant}"
                )
                grant = reservation.grants[0] if reservation and reservation.grants else None
                cpus, memory, gpus = _share(reservation, grant)
                found.append(
                    NodeUnit(
                        "endpoint",
                        endpoint.name,
                        instance.instance_id,
                        instance.state.value,
                        self._node_of(instance.handle),
                        cpus,
                        memory,
                        gpus,
                    )
                )
        return found

    def _node_of(self, handle: str | None) -> str | None:
        """The node a handle names; None for a unit not started yet, or one started by another
        executor (the server was restarted with a different one)."""
        if handle is None:
            return None
        try:
            return self.executor.node_name(handle)
        except KilnError:
            return None


def _kind(job: TrainingJob) -> str:
    return "processing-job" if job.kind == "processing" else "training-job"
