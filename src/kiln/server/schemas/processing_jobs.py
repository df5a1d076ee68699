"""DescribeProcessingJob's and ListProcessingJobs' answers, in SageMaker's field names.

CreateProcessingJob's request is ``services.processing_request``'s, parsed once whichever door it came
through; the REST door takes SageMaker's request as it is: the same JSON boto3 sends.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from kiln.errors import ValidationError
from kiln.records import TrainingJob, processing_job_arn, utcnow
from kiln.scheduler import get_instance_type
from kiln.services.processing_request import CreateProcessingJobRequest

__all__ = ["REQUEST_FIELDS", "describe_processing_job", "summarize_processing_job"]

# CreateProcessingJob's members echoed by Describe: the typed request's, Tags aside (ListTags has them).
REQUEST_FIELDS = tuple(field for field in CreateProcessingJobRequest.model_fields if field != "Tags")


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def _price(job: TrainingJob) -> float:
    if job.price_per_hour is not None:
        return job.price_per_hour
    try:
        return get_instance_type(job.instance_type).price_per_hour
    except ValidationError:
        return 0.0


def summarize_processing_job(job: TrainingJob) -> dict[str, Any]:
    """ListProcessingJobs' ProcessingJobSummary (plus the instance shape the console shows)."""
    summary = {
        "ProcessingJobName": job.name,
        "ProcessingJobArn": processing_job_arn(job.name),
        "CreationTime": _iso(job.creation_time),
        "ProcessingEndTime": _iso(job.training_end_time),
        "LastModifiedTime": _iso(job.last_modified_time),
        "ProcessingJobStatus": job.status.value,
        "FailureReason": job.failure_reason,
        "ExitMessage": job.exit_message,
        "InstanceType": job.instance_type,
        "InstanceCount": job.instance_count,
    }
    return {k: v for k, v in summary.items() if v is not None}


def describe_processing_job(job: TrainingJob) -> dict[str, Any]:
    """DescribeProcessingJob's answer: the request echoed, status, times; Kiln's cost and hosts too
    (the AWS wire trims its answers to botocore's output shape)."""
    now = utcnow()
    billable = job.billable_seconds_at(now)
    price = _price(job)
    described: dict[str, Any] = {field: job.spec.get(field) for field in REQUEST_FIELDS}
    described.update(
        {
            "ProcessingJobArn": processing_job_arn(job.name),
            "ProcessingJobStatus": job.status.value,
            "ExitMessage": job.exit_message,
            "FailureReason": job.failure_reason,
            "CreationTime": _iso(job.creation_time),
            "ProcessingStartTime": _iso(job.training_start_time),
            "ProcessingEndTime": _iso(job.training_end_time),
            "LastModifiedTime": _iso(job.last_modified_time),
            "SecondaryStatus": job.secondary_status.value,
            "StatusTransitions": [
                {
                    "Status": t.status.value,
                    "StartTime": _iso(t.start_time),
                    "EndTime": _iso(t.end_time),
                    "StatusMessage": t.message,
                }
                for t in job.transitions
            ],
            "BillableTimeInSeconds": billable,
            "EstimatedCost": round(billable / 3600 * price, 6),
            "PricePerInstanceHour": price,
            "Warnings": list(job.capacity_warnings),
            "Hosts": [
                {
                    "Host": h.host,
                    "State": h.state.value,
                    "ExitCode": h.exit_code,
                    "FailureReason": h.failure_reason,
                    "LastHeartbeat": _iso(h.last_heartbeat),
                    "Node": h.node,
                }
                for h in job.hosts
            ],
        }
    )
    return {k: v for k, v in described.items() if v is not None}
