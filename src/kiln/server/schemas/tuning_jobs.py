"""The tuning jobs' Describe / List answers in SageMaker's field names (the request is
``services.tuning.request``'s)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from kiln.records import ObjectiveStatus, TrainingJobStatus, TuningTrial, utcnow
from kiln.services.tuning.config import TuningConfig
from kiln.services.tuning.jobs import TuningJobOverview
from kiln.services.tuning.request import CreateTuningJobRequest, TrainingJobDefinitionShape

__all__ = [
    "CreateTuningJobRequest",
    "TrainingJobDefinitionShape",
    "describe_tuning_job",
    "summarize_trial",
    "summarize_tuning_job",
    "tuning_job_arn",
]


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def tuning_job_arn(name: str) -> str:
    return f"arn:kiln:sagemaker:local:000000000000:hyper-parameter-tuning-job/{name}"


def _training_status(trial: TuningTrial) -> str:
    if trial.training_status is not None:
        return trial.training_status.value
    # No training job: it waits to be created, or it could not be.
    return "Failed" if trial.objective_status is ObjectiveStatus.FAILED else "InProgress"


def summarize_trial(trial: TuningTrial, config: TuningConfig) -> dict[str, Any]:
    """SageMaker's HyperParameterTrainingJobSummary."""
    summary: dict[str, Any] = {
        "TrainingJobName": trial.training_job_name,
        "TrainingJobArn": f"arn:kiln:sagemaker:local:000000000000:training-job/{trial.training_job_name}",
        "TuningJobName": trial.tuning_job_name,
        "CreationTime": _iso(trial.creation_time),
        "TrainingStartTime": _iso(trial.training_start_time),
        "TrainingEndTime": _iso(trial.training_end_time),
        "TrainingJobStatus": _training_status(trial),
        "TunedHyperParameters": trial.tuned_hyperparameters,
        "ObjectiveStatus": trial.objective_status.value,
        "FailureReason": trial.failure_reason,
        "EarlyStopped": trial.early_stopped,  # Kiln's: stopped by early stopping, not by a person
    }
    if trial.objective_value is not None:
        summary["FinalHyperParameterTuningJobObjectiveMetric"] = {
            "Type": config.objective_type,
            "MetricName": config.objective_metric,
            "Value": trial.objective_value,
        }
    return {k: v for k, v in summary.items() if v is not None}


def _counters(trials: tuple[TuningTrial, ...]) -> tuple[dict[str, int], dict[str, int]]:
    training = {"Completed": 0, "InProgress": 0, "RetryableError": 0, "NonRetryableError": 0, "Stopped": 0}
    objective = {"Succeeded": 0, "Pending": 0, "Failed": 0}
    for trial in trials:
        objective[trial.objective_status.value] += 1
        status = trial.training_status
        if status is TrainingJobStatus.COMPLETED:
            training["Completed"] += 1
        elif status is TrainingJobStatus.STOPPED:
            training["Stopped"] += 1
        elif status is TrainingJobStatus.FAILED or (
            status is None and trial.objective_status is ObjectiveStatus.FAILED
        ):
            internal = (trial.failure_reason or "").startswith("InternalServerError")
            training["RetryableError" if internal else "NonRetryableError"] += 1
        else:
            training["InProgress"] += 1
    return training, objective


def summarize_tuning_job(overview: TuningJobOverview) -> dict[str, Any]:
    """SageMaker's HyperParameterTuningJobSummary."""
    job = overview.job
    training, objective = _counters(overview.trials)
    config = job.config["HyperParameterTuningJobConfig"]
    return {
        "HyperParameterTuningJobName": job.name,
        "HyperParameterTuningJobArn": tuning_job_arn(job.name),
        "HyperParameterTuningJobStatus": job.status.value,
        "Strategy": overview.config.strategy.value,
        "CreationTime": _iso(job.creation_time),
        "HyperParameterTuningEndTime": _iso(job.end_time),
        "LastModifiedTime": _iso(job.last_modified_time),
        "TrainingJobStatusCounters": training,
        "ObjectiveStatusCounters": objective,
        "ResourceLimits": config.get("ResourceLimits", {}),
    }


def describe_tuning_job(overview: TuningJobOverview) -> dict[str, Any]:
    job = overview.job
    training, objective = _counters(overview.trials)
    runtime = int(((job.end_time or utcnow()) - job.creation_time).total_seconds())
    described: dict[str, Any] = {
        "HyperParameterTuningJobName": job.name,
        "HyperParameterTuningJobArn": tuning_job_arn(job.name),
        "HyperParameterTuningJobConfig": {
            **job.config["HyperParameterTuningJobConfig"],
            "RandomSeed": job.random_seed,
        },
        "TrainingJobDefinition": job.config["TrainingJobDefinition"],
        "WarmStartConfig": job.config.get("WarmStartConfig"),
        "HyperParameterTuningJobStatus": job.status.value,
        "CreationTime": _iso(job.creation_time),
        "HyperParameterTuningEndTime": _iso(job.end_time),
        "LastModifiedTime": _iso(job.last_modified_time),
        "TrainingJobStatusCounters": training,
        "ObjectiveStatusCounters": objective,
        "BestTrainingJob": None if overview.best is None else summarize_trial(overview.best, overview.config),
        "FailureReason": job.failure_reason,
        "ConsumedResources": {"RuntimeInSeconds": max(0, runtime)},
    }
    return {k: v for k, v in described.items() if v is not None}
