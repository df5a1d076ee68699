"""Host jobs (training, and processing, which runs on the same hosts): statuses, hosts, logs, metrics."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from kiln.records.common import JobStatus

__all__ = [
    "HOST_JOB_KINDS",
    "HostState",
    "LogLine",
    "MetricValue",
    "SecondaryStatus",
    "StatusTransition",
    "TrainingJob",
    "TrainingJobHost",
    "TrainingJobStatus",
    "host_job_resources",
]


# SageMaker names the same five statuses per resource; the names stay so records read like its API.
TrainingJobStatus = JobStatus


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
    handle: str | None  # the executor's (opaque, persistable) handle once its process started
    exit_code: int | None
    failure_reason: str | None
    last_heartbeat: datetime | None
    node: str | None = None  # the node it runs on, as the executor names it


HOST_JOB_KINDS = ("training", "processing")


def host_job_resources(spec: dict[str, Any]) -> dict[str, Any]:
    """The instances a host job asks for, whichever request it is (training or processing)."""
    cluster = (spec.get("ProcessingResources") or {}).get("ClusterConfig")
    return dict(cluster if cluster is not None else spec.get("ResourceConfig") or {})


@dataclass(frozen=True)
class TrainingJob:
    """One host job: a training job (SageMaker's DescribeTrainingJob fields, less ARNs) or, with
    ``kind`` "processing", a processing job (``spec`` is then its CreateProcessingJob request). Both
    run on training hosts and share one lifecycle (``services/host_jobs.py``)."""

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
    priority: int = 0  # queue order among waiting jobs: higher first, then first come first served
    price_per_hour: float | None = None  # the instance type's reference price when it was submitted
    capacity_warnings: tuple[str, ...] = ()  # e.g. the type was scaled down to fit this machine
    kind: str = "training"  # or "processing" (HOST_JOB_KINDS)
    exit_message: str | None = None  # a processing job's /opt/ml/output/message (its ExitMessage)

    @property
    def resources(self) -> dict[str, Any]:
        """InstanceType / InstanceCount: ResourceConfig, or a processing job's ClusterConfig."""
        return host_job_resources(self.spec)

    @property
    def instance_count(self) -> int:
        return int(self.resources.get("InstanceCount", 1))

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
        return str(self.resources.get("InstanceType", "local"))

    def training_seconds(self, now: datetime) -> int:
        if self.training_start_time is None:
            return 0
        end = self.training_end_time or now
        return max(0, int((end - self.training_start_time).total_seconds()))
