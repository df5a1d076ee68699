"""/api/v1/tuning-jobs: SageMaker's hyperparameter tuning job operations."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query

from kiln.server.deps import TuningJobs
from kiln.server.routes.bounds import MAX_ROW_NUMBER
from kiln.server.schemas.tuning_jobs import (
    CreateTuningJobRequest,
    describe_tuning_job,
    summarize_trial,
    summarize_tuning_job,
)

router = APIRouter(prefix="/tuning-jobs", tags=["tuning jobs"])


@router.post("", status_code=201)
def create_tuning_job(request: CreateTuningJobRequest, tuning: TuningJobs) -> dict[str, Any]:
    """CreateHyperParameterTuningJob."""
    return describe_tuning_job(tuning.create(request))


@router.get("")
def list_tuning_jobs(
    tuning: TuningJobs,
    status: str | None = None,
    name_contains: str | None = None,
    limit: int = Query(100, ge=1, le=1000),
    offset: int = Query(0, ge=0, le=MAX_ROW_NUMBER),
) -> dict[str, Any]:
    """ListHyperParameterTuningJobs, newest first."""
    found = tuning.list_jobs(status=status, name_contains=name_contains, limit=limit, offset=offset)
    return {"HyperParameterTuningJobSummaries": [summarize_tuning_job(o) for o in found]}


@router.get("/{name}")
def describe(name: str, tuning: TuningJobs) -> dict[str, Any]:
    """DescribeHyperParameterTuningJob."""
    return describe_tuning_job(tuning.describe(name))


@router.post("/{name}/stop")
def stop(name: str, tuning: TuningJobs) -> dict[str, Any]:
    """StopHyperParameterTuningJob: running trials are stopped, none is started."""
    return describe_tuning_job(tuning.stop(name))


@router.get("/{name}/training-jobs")
def list_trials(
    name: str,
    tuning: TuningJobs,
    status: str | None = None,
    sort_by: str = "FinalObjectiveMetricValue",
    sort_order: str | None = Query(None, description="Ascending or Descending (default: best first)"),
    limit: int = Query(100, ge=1, le=1000),
) -> dict[str, Any]:
    """ListTrainingJobsForHyperParameterTuningJob; by default the best objective first."""
    config = tuning.describe(name).config
    trials = tuning.trials(name, status=status, sort_by=sort_by, sort_order=sort_order)[:limit]
    return {"TrainingJobSummaries": [summarize_trial(t, config) for t in trials]}
