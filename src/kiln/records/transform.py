"""Batch transform jobs."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from kiln.records.common import JobStatus

__all__ = [
    "TransformJob",
]


@dataclass(frozen=True)
class TransformJob:
    """One batch transform job (SageMaker's DescribeTransformJob fields, less ARNs)."""

    name: str
    status: JobStatus
    spec: dict[str, Any]  # the CreateTransformJob request as submitted
    creation_time: datetime
    last_modified_time: datetime
    start_time: datetime | None = None  # TransformStartTime: its instances were started
    end_time: datetime | None = None
    failure_reason: str | None = None
    stop_requested_at: datetime | None = None
    billable_seconds: int = 0  # instances × seconds from start to end (so far, while it runs)
    progress: dict[str, Any] = field(default_factory=dict)  # objects and records done, for people
    # The executor's handles of the instances it runs now: a restarted server stops them.
    instance_handles: tuple[str, ...] = ()

    @property
    def instance_count(self) -> int:
        return int((self.spec.get("TransformResources") or {}).get("InstanceCount", 1))

    @property
    def instance_type(self) -> str:
        return str((self.spec.get("TransformResources") or {}).get("InstanceType", "local"))

    def billable_seconds_at(self, now: datetime) -> int:
        if self.status.is_terminal() or self.start_time is None:
            return self.billable_seconds
        return max(0, int((now - self.start_time).total_seconds())) * self.instance_count
