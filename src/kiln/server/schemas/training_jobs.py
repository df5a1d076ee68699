"""CreateTrainingJob's request and DescribeTrainingJob's answer, in SageMaker's field names."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from kiln.errors import ValidationError
from kiln.records import LogLine, TrainingJob, utcnow
from kiln.scheduler import get_instance_type
from kiln.services.training_request import CreateTrainingJobRequest

__all__ = ["CreateTrainingJobRequest", "describe_training_job", "log_line_public", "summarize_training_job"]


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
                "Node": h.node,
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
