"""/api/v1/processing-jobs: SageMaker's processing-job operations, and live logs.

The request body is CreateProcessingJob's JSON as boto3 sends it, parsed into the same typed request
as the AWS wire's, so both doors refuse the same requests with the same messages.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query
from fastapi.responses import StreamingResponse

from kiln.server.deps import ProcessingJobs
from kiln.server.routes.bounds import MAX_ROW_NUMBER
from kiln.server.routes.training_jobs import LOG_PAGE_LINES, follow_job_logs
from kiln.server.schemas.processing_jobs import describe_processing_job, summarize_processing_job
from kiln.server.schemas.training_jobs import log_line_public
from kiln.services.processing_request import CreateProcessingJobRequest

router = APIRouter(prefix="/processing-jobs", tags=["processing jobs"])


@router.post("", status_code=201)
def create_processing_job(request: CreateProcessingJobRequest, jobs: ProcessingJobs) -> dict[str, Any]:
    return describe_processing_job(jobs.create(request))


@router.get("")
def list_processing_jobs(
    jobs: ProcessingJobs,
    status: str | None = None,
    name_contains: str | None = None,
    limit: int = Query(100, ge=1, le=1000),
    offset: int = Query(0, ge=0, le=MAX_ROW_NUMBER),
) -> dict[str, Any]:
    found = jobs.list_jobs(status=status, name_contains=name_contains, limit=limit, offset=offset)
    return {"ProcessingJobSummaries": [summarize_processing_job(j) for j in found]}


@router.get("/{name}")
def describe(name: str, jobs: ProcessingJobs) -> dict[str, Any]:
    return describe_processing_job(jobs.describe(name))


@router.post("/{name}/stop")
def stop(name: str, jobs: ProcessingJobs) -> dict[str, Any]:
    return describe_processing_job(jobs.stop(name))


@router.get("/{name}/logs", response_model=None)
def logs(
    name: str,
    jobs: ProcessingJobs,
    after: int = Query(0, ge=0, le=MAX_ROW_NUMBER, description="return lines after this sequence number"),
    follow: bool = False,
    limit: int = Query(LOG_PAGE_LINES, ge=1, le=10_000),
) -> dict[str, Any] | StreamingResponse:
    """Log lines in order; with ``follow``, JSON lines as they arrive, ending after the job ends."""
    if not follow:
        lines = jobs.logs(name, after, limit)
        return {
            "Events": [log_line_public(line) for line in lines],
            "NextSeq": lines[-1].seq if lines else after,
        }
    jobs.describe(name)  # a 404 now, before the stream starts
    return StreamingResponse(follow_job_logs(jobs, name, after), media_type="application/x-ndjson")
