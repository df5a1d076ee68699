"""The scheduler: the one place that decides who holds which CPUs and GPUs, within the account limits.

Every owner (a training job, an endpoint, …) asks with ``reserve``: over its limit it is refused at once
(ResourceLimitExceeded, in SageMaker's words); within it, it gets its grants now or waits in the queue
(Pending) and is admitted, in order, when capacity frees up; listeners hear of each admission.
``release`` ends a reservation and admits what now fits. Live reservations are kept in memory for speed;
every change is written to the database first, so a restarted server reloads exactly this state.

On a cluster (``elastic``) the inventory is the executor's nodes of the moment: ``update_machine``
takes a new one as nodes join and leave, keeps every reservation, and admits what now fits; a request
larger than the cluster waits for nodes instead of being scaled down to it.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from kiln.config import Settings, load_capacity_settings
from kiln.errors import Conflict, InsufficientCapacity
from kiln.metadata import Database
from kiln.metadata import capacity as store
from kiln.records import CapacityUse, InstanceGrant, Reservation, ReservationState, utcnow
from kiln.scheduler.capacity import CpuPool, Machine, detect_machine
from kiln.scheduler.instance_types import Catalog, InstanceType, resolve_catalog
from kiln.scheduler.limits import AccountLimits, resolve_limits
from kiln.scheduler.queue import AdmissionQueue, Placement
from kiln.scheduler.sizing import Sizing, size_request

__all__ = ["CapacitySnapshot", "Scheduler", "resolve_scheduler"]

log = logging.getLogger("kiln.scheduler")

AdmissionListener = Callable[[Reservation], None]


@dataclass(frozen=True)
class CapacitySnapshot:
    machine: Machine
    oversubscription: float
    total_slots: int
    free_slots: int
    free_gpus: int
    strict: bool
    active: int  # reservations holding capacity
    pending: int  # reservations waiting for it


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def _owned_groups(reservation: Reservation) -> list[tuple[int, ...]]:
    """The CPU groups a reservation holds slots for (instances beyond them share the first ones)."""
    if reservation.slots == 0:
        return []
    return [g.cpus for g in reservation.grants[: reservation.slots // max(1, reservation.cpus_per_instance)]]


def _gpus(reservation: Reservation) -> list[int]:
    return [gpu for g in reservation.grants for gpu in (g.gpus or ())]


def _give_back(pool: CpuPool, slots: int, cpus_per_instance: int, placement: Placement) -> None:
    """Undo a ``take`` whose reservation could not be stored."""
    owned = [cpus for cpus, _ in placement[: slots // max(1, cpus_per_instance)]] if slots else []
    pool.give_back(owned, [gpu for _, gpus in placement for gpu in gpus])


class Scheduler:
    def __init__(
        self,
        db: Database,
        catalog: Catalog,
        limits: AccountLimits,
        pool: CpuPool,
        *,
        strict: bool,
        elastic: bool = False,
    ) -> None:
        self.db = db
        self.catalog = catalog
        self.limits = limits
        self.strict = strict
        self.elastic = elastic
        self._pool = pool
        self._queue = AdmissionQueue()
        self._live: dict[str, Reservation] = {}
        self._in_use: Counter[tuple[CapacityUse, str]] = Counter()
        self._listeners: list[AdmissionListener] = []
        self._lock = threading.RLock()
        for reservation in store.list_live_reservations(db):
            self._track(reservation)
            if reservation.state is ReservationState.ACTIVE:
                self._pool.hold(_owned_groups(reservation), _gpus(reservation))
            else:
                self._queue.push(reservation)

    @property
    def machine(self) -> Machine:
        return self._pool.machine

    # -- reading ------------------------------------------------------------------------------------

    def instance_type(self, name: str) -> InstanceType:
        """The type called ``name`` (built-in, operator's or ``local``); ValidationError otherwise."""
        return self.catalog.get_type(name)

    def size(self, instance_type: str, count: int) -> Sizing:
        """What ``count`` × ``instance_type`` gets here; ValidationError if unknown (or too big, strict)."""
        itype = self.catalog.get_type(instance_type)
        return size_request(
            itype, count, self.machine, self._pool.total_slots, strict=self.strict, elastic=self.elastic
        )

    def find(self, owner: str) -> Reservation | None:
        with self._lock:
            return self._live.get(owner)

    def live(self) -> list[Reservation]:
        with self._lock:
            return sorted(self._live.values(), key=lambda r: r.id)

    def utilization(self, use: CapacityUse, instance_type: str) -> int:
        """Instances of this type this use holds or waits for (what the limit counts)."""
        with self._lock:
            return self._in_use[(use, instance_type)]

    def queue_position(self, owner: str) -> int | None:
        with self._lock:
            return self._queue.position(owner)

    def snapshot(self) -> CapacitySnapshot:
        with self._lock:
            return CapacitySnapshot(
                machine=self.machine,
                oversubscription=self._pool.oversubscription,
                total_slots=self._pool.total_slots,
                free_slots=self._pool.free_slots,
                free_gpus=self._pool.free_gpus,
                strict=self.strict,
                active=len(self._live) - len(self._queue),
                pending=len(self._queue),
            )

    # -- changing -----------------------------------------------------------------------------------

    @contextmanager
    def holding(self) -> Iterator[None]:
        """Hold the scheduler's lock across a reservation and what the caller stores with it."""
        with self._lock:
            yield

    def on_admitted(self, listener: AdmissionListener) -> None:
        """Call ``listener`` with each reservation the queue admits (outside the lock, in that thread)."""
        self._listeners.append(listener)

    def check_limit(self, use: CapacityUse, instance_type: str, count: int) -> None:
        """Refuse now (ResourceLimitExceeded) what ``reserve`` would refuse for the limits."""
        itype = self.catalog.get_type(instance_type)
        self.limits.check(use, itype, self.utilization(use, itype.name), count)

    def reserve(
        self,
        use: CapacityUse,
        owner: str,
        instance_type: str,
        count: int,
        *,
        priority: int = 0,
        queue: bool = True,
        existing_ok: bool = False,
    ) -> Reservation:
        """Capacity for ``count`` instances: Active with grants now, or Pending in the queue.

        Refused at once over the account limit (ResourceLimitExceeded); with ``queue=False``, also when
        it does not fit now (InsufficientCapacity). ``existing_ok`` returns the owner's live
        reservation instead of refusing a second one (an owner re-attaching after a restart).
        """
        sizing = self.size(instance_type, count)
        itype = sizing.instance_type
        with self._lock:
            existing = self._live.get(owner)
            if existing is not None:
                if existing_ok:
                    return existing
                raise Conflict(f"{owner} already holds a capacity reservation ({existing.state.value})")
            self.limits.check(use, itype, self._in_use[(use, itype.name)], count)
            placement: Placement | None = None
            if not sizing.scheduled:
                placement = self._local_placement(count)
            elif not queue or self._queue.would_lead(priority):
                placement = self._pool.take(
                    count, sizing.cpus_per_instance, sizing.slots, sizing.gpus_per_instance
                )
            if placement is None and not queue:
                raise InsufficientCapacity(f"not enough free capacity for {owner}: {self._needs(sizing)}")
            try:
                reservation = store.insert_reservation(
                    self.db,
                    owner=owner,
                    use=use,
                    instance_type=itype.name,
                    instance_count=count,
                    priority=priority,
                    slots=sizing.slots,
                    cpus_per_instance=sizing.cpus_per_instance,
                    gpus_per_instance=sizing.gpus_per_instance,
                    memory_bytes=sizing.memory_bytes,
                    price_per_hour=itype.price_per_hour,
                    warnings=sizing.warnings,
                    message="" if placement else self._wait_message(sizing, priority),
                    now=utcnow(),
                    grants=self._grants(sizing.scheduled, sizing.memory_bytes, placement or []),
                )
            except BaseException:
                if placement is not None and sizing.scheduled:
                    _give_back(self._pool, sizing.slots, sizing.cpus_per_instance, placement)
                raise
            self._track(reservation)
            if reservation.state is ReservationState.PENDING:
                self._queue.push(reservation)
            return reservation

    def release(self, owner: str, *, forget: bool = False) -> Reservation | None:
        """End ``owner``'s reservation (``forget``: delete it, for one that never should have been) and
        admit what now fits. None if it holds none."""
        with self._lock:
            reservation = self._live.get(owner)
            if reservation is None:
                return None
            if forget:
                store.delete_reservation(self.db, reservation.id)
                ended = reservation
            else:
                ended = store.release_reservation(self.db, reservation.id, utcnow())
            del self._live[owner]
            self._in_use[(reservation.use, reservation.instance_type)] -= reservation.instance_count
            if reservation.state is ReservationState.PENDING:
                self._queue.remove(owner)
            else:
                self._pool.give_back(_owned_groups(reservation), _gpus(reservation))
            admitted = self._admit_locked()
        self._notify(admitted)
        return ended

    def resize(self, owner: str, count: int) -> Reservation:
        """Change an Active reservation to ``count`` instances, or refuse and change nothing.

        Growing is checked against the account limit (ResourceLimitExceeded, the delta being the added
        instances) and the free capacity (InsufficientCapacity). The old reservation ends and a new
        one for ``count`` starts at this moment, so cost counts each size for the time it was held.
        """
        with self._lock:
            old = self._live.get(owner)
            if old is None or old.state is not ReservationState.ACTIVE:
                raise Conflict(f"{owner} holds no active capacity reservation to resize")
            if count == old.instance_count:
                return old
            sizing = self.size(old.instance_type, count)
            if count > old.instance_count:
                self.limits.check(
                    old.use,
                    sizing.instance_type,
                    self._in_use[(old.use, old.instance_type)],
                    count - old.instance_count,
                )
            if sizing.scheduled:
                self._pool.give_back(_owned_groups(old), _gpus(old))
                placement = self._pool.take(
                    count, sizing.cpus_per_instance, sizing.slots, sizing.gpus_per_instance
                )
                if placement is None:
                    needs = self._needs(sizing)
                    self._pool.hold(_owned_groups(old), _gpus(old))
                    raise InsufficientCapacity(f"not enough free capacity to resize {owner}: {needs}")
            else:
                placement = self._local_placement(count)
            now = utcnow()
            try:
                store.release_reservation(self.db, old.id, now)
                resized = store.insert_reservation(
                    self.db,
                    owner=owner,
                    use=old.use,
                    instance_type=old.instance_type,
                    instance_count=count,
                    priority=old.priority,
                    slots=sizing.slots,
                    cpus_per_instance=sizing.cpus_per_instance,
                    gpus_per_instance=sizing.gpus_per_instance,
                    memory_bytes=sizing.memory_bytes,
                    price_per_hour=old.price_per_hour,  # the price it was admitted at
                    warnings=sizing.warnings,
                    message="",
                    now=now,
                    grants=self._grants(sizing.scheduled, sizing.memory_bytes, placement),
                )
            except BaseException:
                if sizing.scheduled:
                    _give_back(self._pool, sizing.slots, sizing.cpus_per_instance, placement)
                    self._pool.hold(_owned_groups(old), _gpus(old))
                raise
            self._in_use[(old.use, old.instance_type)] += count - old.instance_count
            self._live[owner] = resized
            admitted = self._admit_locked() if count < old.instance_count else []
        self._notify(admitted)
        return resized

    def update_machine(self, machine: Machine) -> list[Reservation]:
        """Take ``machine`` as the inventory from now on (a cluster whose nodes joined or left): every
        reservation keeps what it holds, and the waiting ones that now fit are admitted (and the
        listeners told). Returns those admitted."""
        with self._lock:
            if machine == self.machine:
                return []
            log.info(
                "capacity now %d CPUs, %d GPUs (largest node: %d CPUs)",
                len(machine.cpus),
                len(machine.gpus),
                machine.instance_cpus,
            )
            self._pool = self._pool.regrown(machine)
            admitted = self._admit_locked()
        self._notify(admitted)
        return admitted

    def admit(self) -> list[Reservation]:
        """Start, in order, the waiting reservations that fit now (and tell the listeners)."""
        with self._lock:
            admitted = self._admit_locked()
        self._notify(admitted)
        return admitted

    # -- inside -------------------------------------------------------------------------------------

    def _track(self, reservation: Reservation) -> None:
        self._live[reservation.owner] = reservation
        self._in_use[(reservation.use, reservation.instance_type)] += reservation.instance_count

    def _local_placement(self, count: int) -> Placement:
        """Local mode: the whole machine, its CPUs split among the job's hosts so threads don't pile up."""
        cpus = self.machine.cpus
        share = max(1, len(cpus) // count)
        return [
            (tuple(sorted({cpus[(i * share + j) % len(cpus)] for j in range(share)})), ())
            for i in range(count)
        ]

    def _grants(self, scheduled: bool, memory: int | None, placement: Placement) -> list[InstanceGrant]:
        if not scheduled:
            return [InstanceGrant(cpus, None, None) for cpus, _ in placement]
        return [InstanceGrant(cpus, gpus, memory) for cpus, gpus in placement]

    def _admit_locked(self) -> list[Reservation]:
        admitted = []
        for waiting, placement in self._queue.admit(self._pool):
            try:
                grants = self._grants(True, waiting.memory_bytes, placement)
                active = store.activate_reservation(self.db, waiting.id, grants, utcnow())
            except Exception:
                log.exception("could not admit %s; it keeps waiting", waiting.owner)
                _give_back(self._pool, waiting.slots, waiting.cpus_per_instance, placement)
                self._queue.push(waiting)
                break
            self._live[active.owner] = active
            admitted.append(active)
        return admitted

    def _notify(self, admitted: list[Reservation]) -> None:
        for reservation in admitted:
            for listener in self._listeners:
                try:
                    listener(reservation)
                except Exception:  # one owner's failure to start must not stop the others
                    log.exception("starting %s after admission failed", reservation.owner)

    def _larger_than_cluster(self, sizing: Sizing) -> bool:
        """Whether a request cannot fit the cluster as it is now, even empty (it waits for nodes)."""
        return self.elastic and (
            sizing.cpus_per_instance > self.machine.instance_cpus or sizing.slots > self._pool.total_slots
        )

    def _needs(self, sizing: Sizing) -> str:
        if self.elastic and sizing.cpus_per_instance > self.machine.instance_cpus:
            return (
                f"needs a node with {_plural(sizing.cpus_per_instance, 'CPU')}, "
                f"the largest node has {self.machine.instance_cpus}"
            )
        needs = f"needs {_plural(sizing.slots, 'CPU')}, {self._pool.free_slots} free"
        if self.elastic and sizing.slots > self._pool.total_slots:
            needs = (
                f"needs {_plural(sizing.slots, 'CPU')} ({sizing.count} × {sizing.cpus_per_instance}), "
                f"the cluster has {self._pool.total_slots} in all"
            )
        gpus = sizing.count * sizing.gpus_per_instance
        if gpus:
            needs += f", and {_plural(gpus, 'GPU')}, {self._pool.free_gpus} free"
        return needs

    def _wait_message(self, sizing: Sizing, priority: int) -> str:
        waiting = (
            "waiting for a node to join" if self._larger_than_cluster(sizing) else "waiting for capacity"
        )
        message = f"{waiting}: {self._needs(sizing)}"
        ahead = self._queue.ahead_of(priority)
        if ahead:
            message += f"; {ahead} ahead in the queue"
        return message


def resolve_scheduler(
    settings: Settings, db: Database, machine: Machine | None = None, *, elastic: bool = False
) -> Scheduler:
    """The scheduler for this server: the operator's config file and KILN_* settings, this machine
    (or ``machine``: the executor's inventory; ``elastic``: a cluster's, which changes)."""
    capacity = load_capacity_settings(settings)
    machine = machine or detect_machine()
    catalog = resolve_catalog(
        capacity, cpus=len(machine.cpus), memory_gib=machine.memory_gib, gpus=len(machine.gpus)
    )
    limits = resolve_limits(capacity, catalog)
    pool = CpuPool(machine, capacity.oversubscription)
    return Scheduler(db, catalog, limits, pool, strict=capacity.strict_instance_types, elastic=elastic)
