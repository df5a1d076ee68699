"""CreateTrainingJob's request and DescribeTrainingJob's answer, in SageMaker's field names."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from kiln.errors import ValidationError
from kiln.records import LogLine, TrainingJob, utcnow
from kiln.scheduler import get_instance_type

__all__ = ["CreateTrainingJobRequest", "describe_training_job", "log_line_public", "summarize_training_job"]


class _Shape(BaseModel):
    model_config = ConfigDict(extra="forbid")


class MetricDefinitionShape(_Shape):
    Name: str = Field(min_length=1, max_length=255)
    Regex: str = Field(min_length=1, max_length=500)


class AlgorithmSpecificationShape(_Shape):
    TrainingInputMode: Literal["File"] = "File"
    TrainingImage: str | None = None
    MetricDefinitions: list[MetricDefinitionShape] = []
    EnableSageMakerMetricsTimeSeries: bool | None = None


class S3DataSourceShape(_Shape):
    S3Uri: str = Field(min_length=1)
    S3DataType: Literal["S3Prefix"] = "S3Prefix"
    S3DataDistributionType: str = "FullyReplicated"


class DataSourceShape(_Shape):
    S3DataSource: S3DataSourceShape


class ChannelShape(_Shape):
    ChannelName: str = Field(min_length=1, max_length=64)
    DataSource: DataSourceShape
    ContentType: str | None = None
    CompressionType: Literal["None"] | None = None
    InputMode: Literal["File"] | None = None
    RecordWrapperType: str | None = None


class OutputDataConfigShape(_Shape):
    S3OutputPath: str = Field(min_length=1)
    KmsKeyId: str | None = None


class ResourceConfigShape(_Shape):
    InstanceType: str
    InstanceCount: int = Field(default=1, ge=1, le=64)
    VolumeSizeInGB: int = 30


class StoppingConditionShape(_Shape):
    MaxRuntimeInSeconds: int = Field(default=86400, ge=1)


class CheckpointConfigShape(_Shape):
    S3Uri: str
    LocalPath: str | None = None


class RetryStrategyShape(_Shape):
    MaximumRetryAttempts: int = Field(ge=0, le=30)


class TensorBoardOutputConfigShape(_Shape):
    S3OutputPath: str
    LocalPath: str | None = None


class CreateTrainingJobRequest(_Shape):
    TrainingJobName: str
    # Values are checked by the service so that the error names the hyperparameter.
    HyperParameters: dict[str, Any] = {}
    AlgorithmSpecification: AlgorithmSpecificationShape = AlgorithmSpecificationShape()
    RoleArn: str | None = None  # accepted for compatibility; Kiln has no IAM
    InputDataConfig: list[ChannelShape] = []
    OutputDataConfig: OutputDataConfigShape
    ResourceConfig: ResourceConfigShape
    StoppingCondition: StoppingConditionShape = StoppingConditionShape()
    CheckpointConfig: CheckpointConfigShape | None = None
    Environment: dict[str, str] = {}
    RetryStrategy: RetryStrategyShape | None = None
    TensorBoardOutputConfig: TensorBoardOutputConfigShape | None = None
    Tags: list[dict[str, str]] = []
    # Kiln's: order among jobs waiting for capacity, higher first (then first come, first served).
    Priority: int | None = Field(default=None, ge=-1000, le=1000)
    # Kiln's: SageMaker SDK arguments Kiln accepted but has no counterpart for; stored and echoed.
    SdkArguments: dict[str, Any] | None = None


def _reference_price(instance_type: str) -> float:
    try:
        return get_instance_type(instance_type).price_per_hour
    except ValidationError:
        return 0.0  # an operator's type: jobs store their price when submitted


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def _tuning_job_arn(name: str | None) -> str | None:
    if name is None:
        return None
    return f"arn:kiln:sagemaker:local:000000000000:hyper-parameter-tuning-job/{name}"


def summarize_training_job(job: TrainingJob) -> dict[str, Any]:
    """ListTrainingJobs' TrainingJobSummary, with the instance shape and cost the console shows."""
    now = utcnow()
    return {
        "TrainingJobName": job.name,
        "TrainingJobStatus": job.status.value,
        "SecondaryStatus": job.secondary_status.value,
        "CreationTime": _iso(job.creation_time),
        "TrainingEndTime": _iso(job.training_end_time),
        "LastModifiedTime": _iso(job.last_modified_time),
        "InstanceType": job.instance_type,
        "InstanceCount": job.instance_count,
        "TrainingTimeInSeconds": job.training_seconds(now),
        "TuningJobName": job.spec.get("TuningJobName"),  # set on the trials of a tuning job
    }


def describe_training_job(job: TrainingJob) -> dict[str, Any]:
    now = utcnow()
    spec = job.spec
    seconds = job.training_seconds(now)
    billable = job.billable_seconds_at(now)
    price = job.price_per_hour if job.price_per_hour is not None else _reference_price(job.instance_type)
    described: dict[str, Any] = {
        "TrainingJobName": job.name,
        "TrainingJobArn": f"arn:kiln:sagemaker:local:000000000000:training-job/{job.name}",
        "TrainingJobStatus": job.status.value,
        "SecondaryStatus": job.secondary_status.value,
        "HyperParameters": spec.get("HyperParameters", {}),
        "AlgorithmSpecification": spec.get("AlgorithmSpecification", {}),
        "RoleArn": spec.get("RoleArn"),
        "InputDataConfig": spec.get("InputDataConfig", []),
        "OutputDataConfig": spec.get("OutputDataConfig", {}),
        "ResourceConfig": spec.get("ResourceConfig", {}),
        "StoppingCondition": spec.get("StoppingCondition", {}),
        "CheckpointConfig": spec.get("CheckpointConfig"),
        "Environment": spec.get("Environment", {}),
        "RetryStrategy": spec.get("RetryStrategy"),
        "TensorBoardOutputConfig": spec.get("TensorBoardOutputConfig"),
        "SdkArguments": spec.get("SdkArguments"),
        "TuningJobArn": _tuning_job_arn(spec.get("TuningJobName")),
        "CreationTime": _iso(job.creation_time),
        "TrainingStartTime": _iso(job.training_start_time),
        "TrainingEndTime": _iso(job.training_end_time),
        "LastModifiedTime": _iso(job.last_modified_time),
        "SecondaryStatusTransitions": [
            {
                "Status": t.status.value,
                "StartTime": _iso(t.start_time),
                "EndTime": _iso(t.end_time),
                "StatusMessage": t.message,
            }
            for t in job.transitions
        ],
        "FinalMetricDataList": [
            {"MetricName": m.name, "Value": m.value, "Timestamp": _iso(m.timestamp)}
            for m in job.final_metrics
        ],
        "TrainingTimeInSeconds": seconds,
        "BillableTimeInSeconds": billable,
        "EstimatedCost": round(billable / 3600 * price, 6),
        "PricePerInstanceHour": price,
        "Priority": job.priority,
        "Warnings": list(job.capacity_warnings),
        "Hosts": [
            {
                "Host": h.host,
                "State": h.state.value,
                "ExitCode": h.exit_code,
                "FailureReason": h.failure_reason,
                "LastHeartbeat": _iso(h.last_heartbeat),
            }
            for h in job.hosts
        ],
    }
    if job.model_artifacts:
        described["ModelArtifacts"] = {"S3ModelArtifacts": job.model_artifacts}
    if job.output_artifacts:
        described["OutputArtifacts"] = {"S3OutputArtifacts": job.output_artifacts}
    if job.failure_reason:
        described["FailureReason"] = job.failure_reason
    return {k: v for k, v in described.items() if v is not None}


def log_line_public(line: LogLine) -> dict[str, Any]:
    return {
        "seq": line.seq,
        "host": line.host,
        "timestamp": line.timestamp.isoformat(),
        "stream": line.stream,
        "message": line.message,
    }
