"""/api/v1/transform-jobs: SageMaker's batch transform operations."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query

from kiln.server.deps import TransformJobs
from kiln.server.schemas.transform_jobs import (
    CreateTransformJobRequest,
    describe_transform_job,
    summarize_transform_job,
)

router = APIRouter(tags=["transform jobs"])


@router.post("/transform-jobs", status_code=201)
def create_transform_job(request: CreateTransformJobRequest, jobs: TransformJobs) -> dict[str, Any]:
    return describe_transform_job(jobs.create(request))


@router.get("/transform-jobs")
def list_transform_jobs(
    jobs: TransformJobs,
    status: str | None = None,
    name_contains: str | None = None,
    limit: int = Query(100, ge=1, le=1000),
) -> dict[str, Any]:
    return {
        "TransformJobSummaries": [
            summarize_transform_job(j) for j in jobs.list_jobs(status, name_contains, limit)
        ]
    }


@router.get("/transform-jobs/{name}")
def describe_transform_job_route(name: str, jobs: TransformJobs) -> dict[str, Any]:
    return describe_transform_job(jobs.describe(name))


@router.post("/transform-jobs/{name}/stop")
def stop_transform_job(name: str, jobs: TransformJobs) -> dict[str, Any]:
    return describe_transform_job(jobs.stop(name))


@router.get("/transform-jobs/{name}/logs")
def transform_job_logs(
    name: str, jobs: TransformJobs, tail: int = Query(1000, ge=1, le=100_000)
) -> dict[str, Any]:
    return {"TransformJobName": name, "Streams": jobs.logs(name, tail)}
