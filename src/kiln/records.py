"""Frozen records and lifecycle enums shared by every layer.

The storage layer hands these out instead of ORM rows, so nothing above it can change the database
by accident. Status names are SageMaker's, so its users (and its SDK) read them unchanged.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

__all__ = [
    "HostState",
    "LogLine",
    "MetricValue",
    "SecondaryStatus",
    "StatusTransition",
    "TrainingJob",
    "TrainingJobHost",
    "TrainingJobStatus",
    "from_epoch",
    "utcnow",
]


def utcnow() -> datetime:
    """Now, as an aware UTC datetime: every time Kiln stores is aware."""
    return datetime.now(timezone.utc)


def from_epoch(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, timezone.utc)


class TrainingJobStatus(str, enum.Enum):
    IN_PROGRESS = "InProgress"
    COMPLETED = "Completed"
    FAILED = "Failed"
    STOPPING = "Stopping"
    STOPPED = "Stopped"

    def is_terminal(self) -> bool:
        return self in (TrainingJobStatus.COMPLETED, TrainingJobStatus.FAILED, TrainingJobStatus.STOPPED)


class SecondaryStatus(str, enum.Enum):
    STARTING = "Starting"
    PENDING = "Pending"
    DOWNLOADING = "Downloading"
    TRAINING = "Training"
    UPLOADING = "Uploading"
    RESTARTING = "Restarting"
    STOPPING = "Stopping"
    COMPLETED = "Completed"
    FAILED = "Failed"
    STOPPED = "Stopped"
    MAX_RUNTIME_EXCEEDED = "MaxRuntimeExceeded"
    INTERRUPTED = "Interrupted"

    def is_terminal(self) -> bool:
        return self in _TERMINAL_SECONDARY

    def primary(self) -> TrainingJobStatus:
        """The primary status a job has while in this secondary status."""
        return _PRIMARY_OF.get(self, TrainingJobStatus.IN_PROGRESS)


_TERMINAL_SECONDARY = frozenset(
    {
        SecondaryStatus.COMPLETED,
        SecondaryStatus.FAILED,
        SecondaryStatus.STOPPED,
        SecondaryStatus.MAX_RUNTIME_EXCEEDED,
        SecondaryStatus.INTERRUPTED,
    }
)
_PRIMARY_OF = {
    SecondaryStatus.COMPLETED: TrainingJobStatus.COMPLETED,
    SecondaryStatus.FAILED: TrainingJobStatus.FAILED,
    SecondaryStatus.STOPPED: TrainingJobStatus.STOPPED,
    SecondaryStatus.MAX_RUNTIME_EXCEEDED: TrainingJobStatus.STOPPED,
    SecondaryStatus.INTERRUPTED: TrainingJobStatus.FAILED,
    SecondaryStatus.STOPPING: TrainingJobStatus.STOPPING,
}


class HostState(str, enum.Enum):
    """Where one host process of a job stands, as the control plane sees it."""

    LAUNCHING = "Launching"
    RUNNING = "Running"
    SUCCEEDED = "Succeeded"
    FAILED = "Failed"
    STOPPED = "Stopped"

    def is_terminal(self) -> bool:
        return self in (HostState.SUCCEEDED, HostState.FAILED, HostState.STOPPED)


@dataclass(frozen=True)
class StatusTransition:
    status: SecondaryStatus
    start_time: datetime
    end_time: datetime | None
    message: str


@dataclass(frozen=True)
class MetricValue:
    name: str
    value: float
    timestamp: datetime
    host: str = "algo-1"


@dataclass(frozen=True)
class LogLine:
    seq: int  # job-wide order in which the control plane stored the line
    host: str
    timestamp: datetime
    message: str
    stream: str = "stdout"


@dataclass(frozen=True)
class TrainingJobHost:
    host: str
    state: HostState
    pid: int | None
    pid_started_at: float | None  # psutil create_time, so a recycled pid is never mistaken for ours
    exit_code: int | None
    failure_reason: str | None
    last_heartbeat: datetime | None


@dataclass(frozen=True)
class TrainingJob:
    """One training job, as described to users (SageMaker's DescribeTrainingJob fields, less ARNs)."""

    name: str
    status: TrainingJobStatus
    secondary_status: SecondaryStatus
    spec: dict[str, Any]  # the CreateTrainingJob request as submitted (hyperparameters verbatim)
    creation_time: datetime
    last_modified_time: datetime
    training_start_time: datetime | None = None
    training_end_time: datetime | None = None
    failure_reason: str | None = None
    model_artifacts: str | None = None
    output_artifacts: str | None = None
    stop_requested_at: datetime | None = None
    billable_seconds: int = 0  # of attempts that already ended (the job's total once it has ended)
    attempt: int = 1
    attempt_start_time: datetime | None = None
    transitions: tuple[StatusTransition, ...] = ()
    final_metrics: tuple[MetricValue, ...] = ()
    hosts: tuple[TrainingJobHost, ...] = field(default=())

    @property
    def instance_count(self) -> int:
        return int(self.spec.get("ResourceConfig", {}).get("InstanceCount", 1))

    @property
    def max_retry_attempts(self) -> int:
        return int((self.spec.get("RetryStrategy") or {}).get("MaximumRetryAttempts", 0))

    def billable_seconds_at(self, now: datetime) -> int:
        """Instances × seconds of every attempt, the running one counted up to ``now``."""
        if self.status.is_terminal() or self.attempt_start_time is None:
            return self.billable_seconds
        running = max(0, int((now - self.attempt_start_time).total_seconds())) * self.instance_count
        return self.billable_seconds + running

    @property
    def instance_type(self) -> str:
        return str(self.spec.get("ResourceConfig", {}).get("InstanceType", "local"))

    def training_seconds(self, now: datetime) -> int:
        if self.training_start_time is None:
            return 0
        end = self.training_end_time or now
        return max(0, int((end - self.training_start_time).total_seconds()))
