"""DescribeTransformJob's answer in SageMaker's field names (the request: ``services.transform.request``)."""

from __future__ import annotations

from typing import Any

from kiln.records import TransformJob, utcnow
from kiln.services.transform.request import CreateTransformJobRequest

__all__ = ["CreateTransformJobRequest", "describe_transform_job", "summarize_transform_job"]

ARN = "arn:kiln:sagemaker:local:000000000000"
# What DescribeTransformJob repeats of the request as submitted: the typed request's members (its name
# and tags aside: Describe names the job itself, ListTags has the tags), and the members the AWS wire
# keeps without acting on them.
_ECHOED = (
    *(field for field in CreateTransformJobRequest.model_fields if field not in ("TransformJobName", "Tags")),
    "DataCaptureConfig",
    "ExperimentConfig",
)


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
