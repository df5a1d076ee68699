"""CreateTransformJob's request and DescribeTransformJob's answer, in SageMaker's field names."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from kiln.records import TransformJob, utcnow

__all__ = ["CreateTransformJobRequest", "describe_transform_job", "summarize_transform_job"]

ARN = "arn:kiln:sagemaker:local:000000000000"
# What DescribeTransformJob repeats of the request, as submitted.
_ECHOED = (
    "ModelName",
    "MaxConcurrentTransforms",
    "ModelClientConfig",
    "MaxPayloadInMB",
    "BatchStrategy",
    "Environment",
    "TransformInput",
    "TransformOutput",
    "TransformResources",
    "DataProcessing",
    "DataCaptureConfig",
    "ExperimentConfig",
)


class _Shape(BaseModel):
    model_config = ConfigDict(extra="forbid")


class S3DataSourceShape(_Shape):
    S3DataType: Literal["S3Prefix", "ManifestFile"] = "S3Prefix"
    S3Uri: str = Field(min_length=1)


class DataSourceShape(_Shape):
    S3DataSource: S3DataSourceShape


class TransformInputShape(_Shape):
    DataSource: DataSourceShape
    ContentType: str | None = None
    CompressionType: Literal["None", "Gzip"] | None = None
    SplitType: Literal["None", "Line", "RecordIO"] | None = None


class TransformOutputShape(_Shape):
    S3OutputPath: str = Field(min_length=1)
    Accept: str | None = None
    AssembleWith: Literal["None", "Line"] | None = None
    KmsKeyId: str | None = None


class TransformResourcesShape(_Shape):
    InstanceType: str = "local"
    InstanceCount: int = Field(default=1, ge=1, le=64)
    VolumeKmsKeyId: str | None = None


class DataProcessingShape(_Shape):
    InputFilter: str | None = None
    OutputFilter: str | None = None
    JoinSource: Literal["None", "Input"] | None = None


class ModelClientConfigShape(_Shape):
    InvocationsTimeoutInSeconds: int | None = Field(default=None, ge=1, le=3600)
    InvocationsMaxRetries: int | None = Field(default=None, ge=0, le=3)


class CreateTransformJobRequest(_Shape):
    TransformJobName: str
    ModelName: str
    TransformInput: TransformInputShape
    TransformOutput: TransformOutputShape
    TransformResources: TransformResourcesShape = TransformResourcesShape()
    MaxConcurrentTransforms: int | None = Field(default=None, ge=0)
    MaxPayloadInMB: int | None = Field(default=None, ge=0, le=100)
    BatchStrategy: Literal["SingleRecord", "MultiRecord"] | None = None
    Environment: dict[str, str] | None = None
    DataProcessing: DataProcessingShape | None = None
    ModelClientConfig: ModelClientConfigShape | None = None
    Tags: list[dict[str, str]] = []


def summarize_transform_job(job: TransformJob) -> dict[str, Any]:
    """ListTransformJobs' TransformJobSummary."""
    summary: dict[str, Any] = {
        "TransformJobName": job.name,
        "TransformJobArn": f"{ARN}:transform-job/{job.name}",
        "CreationTime": job.creation_time,
        "LastModifiedTime": job.last_modified_time,
        "TransformJobStatus": job.status.value,
    }
    if job.end_time is not None:
        summary["TransformEndTime"] = job.end_time
    if job.failure_reason:
        summary["FailureReason"] = job.failure_reason
    return summary


def describe_transform_job(job: TransformJob, *, kiln_fields: bool = True) -> dict[str, Any]:
    """DescribeTransformJob's answer; ``kiln_fields`` adds what SageMaker's lacks (progress, billing)."""
    answer: dict[str, Any] = {
        "TransformJobName": job.name,
        "TransformJobArn": f"{ARN}:transform-job/{job.name}",
        "TransformJobStatus": job.status.value,
        "CreationTime": job.creation_time,
    }
    answer.update({key: job.spec[key] for key in _ECHOED if key in job.spec})
    answer.setdefault(
        "TransformResources", {"InstanceType": job.instance_type, "InstanceCount": job.instance_count}
    )
    if job.failure_reason:
        answer["FailureReason"] = job.failure_reason
    if job.start_time is not None:
        answer["TransformStartTime"] = job.start_time
    if job.end_time is not None:
        answer["TransformEndTime"] = job.end_time
    if kiln_fields:
        answer["LastModifiedTime"] = job.last_modified_time
        answer["BillableTimeInSeconds"] = job.billable_seconds_at(utcnow())
        answer["Progress"] = job.progress
    return answer
