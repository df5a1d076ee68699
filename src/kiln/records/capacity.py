"""Capacity: what the scheduler reserved, for whom, and what each instance may use."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime

__all__ = [
    "CapacityUse",
    "InstanceGrant",
    "Reservation",
    "ReservationState",
]


class CapacityUse(str, enum.Enum):
    """What instances are used for; account limits are per instance type and per use (SageMaker's)."""

    TRAINING = "training"
    ENDPOINT = "endpoint"
    TUNING = "tuning"  # the training jobs of hyperparameter tuning jobs
    TRANSFORM = "transform"  # batch transform jobs' instances
    PROCESSING = "processing"

    @property
    def usage_name(self) -> str:
        """The end of SageMaker's quota name: 'ml.p2.xlarge for <training job usage>'."""
        return _USAGE_NAMES[self]


_USAGE_NAMES = {
    CapacityUse.TRAINING: "training job usage",
    CapacityUse.ENDPOINT: "endpoint usage",
    CapacityUse.TUNING: "tuning job usage",
    CapacityUse.TRANSFORM: "transform job usage",
    CapacityUse.PROCESSING: "processing job usage",
}


class ReservationState(str, enum.Enum):
    PENDING = "Pending"  # within its limits, waiting for free capacity
    ACTIVE = "Active"  # holds its CPUs and GPUs
    RELEASED = "Released"  # ended; kept for usage and cost

    def is_live(self) -> bool:
        return self is not ReservationState.RELEASED


@dataclass(frozen=True)
class InstanceGrant:
    """What one instance (a training host, an endpoint instance) may use."""

    cpus: tuple[int, ...]  # CPU ids for its affinity (all of them for ``local``)
    gpus: tuple[int, ...] | None  # GPU ids for CUDA_VISIBLE_DEVICES; None: left as it is (``local``)
    memory_bytes: int | None  # its memory cap; None: no cap

    @property
    def num_cpus(self) -> int:
        return len(self.cpus)


@dataclass(frozen=True)
class Reservation:
    """Capacity held (or awaited) by one owner: a training job, an endpoint, …"""

    id: int  # also its place in the queue: first come, first served (after priority)
    owner: str  # e.g. "training-job/NAME", "endpoint/NAME"; unique among live reservations
    use: CapacityUse
    instance_type: str
    instance_count: int
    priority: int
    state: ReservationState
    slots: int  # CPU slots held or awaited in all (0: not scheduled, e.g. ``local``)
    cpus_per_instance: int
    gpus_per_instance: int
    memory_bytes: int | None  # per instance
    price_per_hour: float  # per instance, the type's reference price
    requested_at: datetime
    started_at: datetime | None = None
    ended_at: datetime | None = None
    grants: tuple[InstanceGrant, ...] = ()  # one per instance once Active
    message: str = ""  # why it waits, while Pending
    warnings: tuple[str, ...] = ()

    def instance_seconds(self, since: datetime, now: datetime) -> float:
        """Instances × seconds held between ``since`` and ``now`` (what endpoints are billed)."""
        if self.started_at is None:
            return 0.0
        start = max(self.started_at, since)
        end = min(self.ended_at or now, now)
        return max(0.0, (end - start).total_seconds()) * self.instance_count
