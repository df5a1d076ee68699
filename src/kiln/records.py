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
    "HOST_JOB_KINDS",
    "CapacityUse",
    "HostState",
    "InstanceGrant",
    "JobStatus",
    "LogLine",
    "MetricValue",
    "Reservation",
    "ReservationState",
    "SecondaryStatus",
    "StatusTransition",
    "TrainingJob",
    "TrainingJobHost",
    "TrainingJobStatus",
    "TransformJob",
    "from_epoch",
    "host_job_resources",
    "processing_job_arn",
    "utcnow",
]


def utcnow() -> datetime:
    """Now, as an aware UTC datetime: every time Kiln stores is aware."""
    return datetime.now(timezone.utc)


def from_epoch(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, timezone.utc)


class JobStatus(str, enum.Enum):
    """The primary status of every SageMaker job: training, tuning (and transform, processing)."""

    IN_PROGRESS = "InProgress"
    COMPLETED = "Completed"
    FAILED = "Failed"
    STOPPING = "Stopping"
    STOPPED = "Stopped"

    def is_terminal(self) -> bool:
        return self in (JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.STOPPED)


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


def processing_job_arn(name: str) -> str:
    """Kiln's ARN of a processing job (the AWS wire rewrites it into the caller's region and account)."""
    return f"arn:kiln:sagemaker:local:000000000000:processing-job/{name}"


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


# -- hosting ------------------------------------------------------------------------------------------

__all__ += [
    "Endpoint",
    "EndpointConfigRecord",
    "EndpointInstance",
    "EndpointRoutes",
    "EndpointStatus",
    "InstanceState",
    "ModelRecord",
    "VariantRoute",
]


class EndpointStatus(str, enum.Enum):
    CREATING = "Creating"
    IN_SERVICE = "InService"
    UPDATING = "Updating"
    DELETING = "Deleting"
    FAILED = "Failed"

    def accepts_invocations(self) -> bool:
        # During an update the old instances serve until the new ones take over.
        return self in (EndpointStatus.IN_SERVICE, EndpointStatus.UPDATING)


class InstanceState(str, enum.Enum):
    STARTING = "Starting"
    SERVING = "Serving"
    DRAINING = "Draining"  # out of rotation, answering what it already holds
    STOPPED = "Stopped"
    FAILED = "Failed"

    def is_live(self) -> bool:
        return self in (InstanceState.STARTING, InstanceState.SERVING, InstanceState.DRAINING)


@dataclass(frozen=True)
class ModelRecord:
    name: str
    spec: dict[str, Any]  # CreateModel's request: PrimaryContainer{ModelDataUrl, Environment, …}
    creation_time: datetime


@dataclass(frozen=True)
class EndpointConfigRecord:
    name: str
    spec: dict[str, Any]  # CreateEndpointConfig's request: ProductionVariants[…]
    creation_time: datetime

    @property
    def variants(self) -> list[dict[str, Any]]:
        return list(self.spec.get("ProductionVariants", []))


@dataclass(frozen=True)
class EndpointInstance:
    instance_id: str
    variant: str
    config_name: str
    state: InstanceState
    handle: str | None  # the executor's (opaque, persistable) handle once its process started
    port: int | None
    socket_path: str | None
    failure_reason: str | None
    started_at: datetime


@dataclass(frozen=True)
class Endpoint:
    name: str
    config_name: str
    status: EndpointStatus
    weights: dict[str, float]  # variant → current weight
    counts: dict[str, int]  # variant → desired instance count
    creation_time: datetime
    last_modified_time: datetime
    failure_reason: str | None = None
    in_service_since: datetime | None = None
    instances: tuple[EndpointInstance, ...] = ()


@dataclass(frozen=True)
class VariantRoute:
    name: str
    weight: float
    instances: tuple[tuple[str, str], ...]  # (instance id, socket path) of instances in rotation


@dataclass(frozen=True)
class EndpointRoutes:
    name: str
    status: str  # the endpoint's status when these routes were published
    variants: tuple[VariantRoute, ...] = field(default=())

    def accepts_invocations(self) -> bool:
        return EndpointStatus(self.status).accepts_invocations()


# -- hyperparameter tuning ----------------------------------------------------------------------------

__all__ += ["ObjectiveStatus", "TuningJob", "TuningJobStatus", "TuningTrial"]


TuningJobStatus = JobStatus  # SageMaker's HyperParameterTuningJobStatus: the same five


class ObjectiveStatus(str, enum.Enum):
    """Whether a trial yielded a value of the tuning job's objective (SageMaker's ObjectiveStatus)."""

    SUCCEEDED = "Succeeded"
    PENDING = "Pending"
    FAILED = "Failed"


@dataclass(frozen=True)
class TuningJob:
    """One hyperparameter tuning job; ``config`` is the CreateHyperParameterTuningJob request as given."""

    name: str
    status: TuningJobStatus
    config: dict[str, Any]
    random_seed: int  # the seed in effect (RandomSeed, or one drawn at creation), so a restart resumes it
    creation_time: datetime
    last_modified_time: datetime
    end_time: datetime | None = None
    failure_reason: str | None = None
    stop_requested_at: datetime | None = None


@dataclass(frozen=True)
class TuningTrial:
    """One trial of a tuning job: the Optuna trial, the training job that runs it, and its objective."""

    tuning_job_name: str
    number: int  # the Optuna trial number: 0, 1, … in the order trials were started
    training_job_name: str
    tuned_hyperparameters: dict[str, str]  # as passed to the training job
    objective_status: ObjectiveStatus
    creation_time: datetime
    objective_value: float | None = None
    early_stopped: bool = False
    failure_reason: str | None = None  # why it yielded no objective
    # From the training job; None while the trial waits for its training job to be created.
    training_status: TrainingJobStatus | None = None
    training_start_time: datetime | None = None
    training_end_time: datetime | None = None


# -- capacity: what the scheduler reserved, for whom ---------------------------------------------------


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


# -- access keys: the AWS wire's credentials ------------------------------------------------------------

__all__ += ["AccessKey", "AccessKeyStatus"]


class AccessKeyStatus(str, enum.Enum):
    ACTIVE = "Active"
    INACTIVE = "Inactive"  # revoked: requests signed with it are refused


@dataclass(frozen=True)
class AccessKey:
    """An access key for the AWS wire (``kiln keys create``); the secret never leaves the service."""

    access_key_id: str
    name: str
    status: AccessKeyStatus
    created_at: datetime
    revoked_at: datetime | None = None


# -- endpoint metrics (CloudWatch's AWS/SageMaker endpoint metrics, per variant) ----------------------

__all__ += ["EndpointMetricPeriod"]


@dataclass(frozen=True)
class EndpointMetricPeriod:
    """A variant's invocations in one period: counts, and latency histograms (``latency_histogram``)."""

    endpoint: str
    variant: str
    start: int  # epoch seconds
    invocations: int
    errors_4xx: int
    errors_5xx: int
    instances: int  # the variant's instances in service (the most seen in the period)
    model_latency: dict[int, int]  # bucket index → requests
    overhead_latency: dict[int, int]
    model_latency_sum_us: float
    overhead_latency_sum_us: float


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


# -- pipelines -------------------------------------------------------------------------------------


class PipelineExecutionStatus(str, enum.Enum):
    EXECUTING = "Executing"
    STOPPING = "Stopping"
    STOPPED = "Stopped"
    FAILED = "Failed"
    SUCCEEDED = "Succeeded"

    def is_terminal(self) -> bool:
        return self in (self.STOPPED, self.FAILED, self.SUCCEEDED)


class PipelineStepStatus(str, enum.Enum):
    STARTING = "Starting"  # its job's name is recorded; the job may not exist yet
    EXECUTING = "Executing"
    STOPPING = "Stopping"
    STOPPED = "Stopped"
    FAILED = "Failed"
    SUCCEEDED = "Succeeded"

    def is_terminal(self) -> bool:
        return self in (self.STOPPED, self.FAILED, self.SUCCEEDED)


def pipeline_arn(name: str) -> str:
    return f"arn:kiln:sagemaker:local:000000000000:pipeline/{name}"


def pipeline_execution_arn(pipeline: str, execution_id: str) -> str:
    return f"{pipeline_arn(pipeline)}/execution/{execution_id}"


@dataclass(frozen=True)
class Pipeline:
    name: str
    definition: dict[str, Any]  # SageMaker's pipeline definition document
    role_arn: str | None
    display_name: str | None
    description: str | None
    max_parallel_steps: int | None
    creation_time: datetime
    last_modified_time: datetime


@dataclass(frozen=True)
class PipelineExecution:
    execution_id: str
    pipeline_name: str
    status: PipelineExecutionStatus
    definition: dict[str, Any]
    parameters: dict[str, Any]
    display_name: str | None
    description: str | None
    max_parallel_steps: int | None
    failure_reason: str | None
    creation_time: datetime
    last_modified_time: datetime
    stop_requested_at: datetime | None

    @property
    def arn(self) -> str:
        return pipeline_execution_arn(self.pipeline_name, self.execution_id)


@dataclass(frozen=True)
class PipelineStep:
    execution_id: str
    pipeline_name: str
    step_name: str
    step_type: str
    status: PipelineStepStatus
    job_name: str | None
    arguments: dict[str, Any] | None
    cache_key: str | None
    cache_source_execution: str | None
    outcome: str | None
    attempt_count: int
    retry_at: datetime | None
    failure_reason: str | None
    start_time: datetime
    end_time: datetime | None
