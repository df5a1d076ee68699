"""Hyperparameter tuning jobs and their trials."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from kiln.records.common import JobStatus
from kiln.records.training import TrainingJobStatus

__all__ = [
    "ObjectiveStatus",
    "TuningJob",
    "TuningJobStatus",
    "TuningTrial",
]


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
