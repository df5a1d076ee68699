"""/api/v1/training-jobs: SageMaker's training-job operations, and live logs."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Query
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from kiln.server.deps import TrainingJobs
from kiln.server.routes.bounds import MAX_ROW_NUMBER
from kiln.server.schemas.training_jobs import (
    CreateTrainingJobRequest,
    describe_training_job,
    log_line_public,
    summarize_training_job,
)

router = APIRouter(prefix="/training-jobs", tags=["training jobs"])

FOLLOW_POLL_SECONDS = 0.2  # how often a follower looks for new lines
LOG_PAGE_LINES = 1000


@router.post("", status_code=201)
def create_training_job(request: CreateTrainingJobRequest, jobs: TrainingJobs) -> dict[str, Any]:
    job = jobs.create(request)
    return describe_training_job(job)


@router.get("")
def list_training_jobs(
    jobs: TrainingJobs,
    status: str | None = None,
    name_contains: str | None = None,
    limit: int = Query(100, ge=1, le=1000),
    offset: int = Query(0, ge=0, le=MAX_ROW_NUMBER),
) -> dict[str, Any]:
    found = jobs.list_jobs(status=status, name_contains=name_contains, limit=limit, offset=offset)
    return {"TrainingJobSummaries": [summarize_training_job(j) for j in found]}


@router.get("/{name}")
def describe(name: str, jobs: TrainingJobs) -> dict[str, Any]:
    return describe_training_job(jobs.describe(name))


@router.post("/{name}/stop")
def stop(name: str, jobs: TrainingJobs) -> dict[str, Any]:
    return describe_training_job(jobs.stop(name))


@router.get("/{name}/metrics")
def metrics(name: str, jobs: TrainingJobs, metric: str | None = None) -> dict[str, Any]:
    values = jobs.metrics(name, metric)
    return {
        "Metrics": [
            {"MetricName": m.name, "Value": m.value, "Timestamp": m.timestamp.isoformat(), "Host": m.host}
            for m in values
        ]
    }


@router.get("/{name}/logs", response_model=None)
def logs(
    name: str,
    jobs: TrainingJobs,
    after: int = Query(0, ge=0, le=MAX_ROW_NUMBER, description="return lines after this sequence number"),
    follow: bool = False,
    limit: int = Query(LOG_PAGE_LINES, ge=1, le=10_000),
) -> dict[str, Any] | StreamingResponse:
    """Log lines in order. With ``follow``, a stream of JSON lines: log lines as they arrive and each
    status change, ending after the job has ended and its last line was sent."""
    if not follow:
        lines = jobs.logs(name, after, limit)
        return {
            "Events": [log_line_public(line) for line in lines],
            "NextSeq": lines[-1].seq if lines else after,
        }
    jobs.describe(name)  # a 404 now, before the stream starts, for a job that does not exist
    return StreamingResponse(follow_job_logs(jobs, name, after), media_type="application/x-ndjson")


async def follow_job_logs(jobs: Any, name: str, after: int) -> AsyncIterator[bytes]:
    """Any host job's log stream (``jobs``: its kind's service, with describe and logs)."""
    seen_transitions = 0
    while True:
        job = await run_in_threadpool(jobs.describe, name)
        lines = await run_in_threadpool(jobs.logs, name, after, LOG_PAGE_LINES)
        statuses: list[tuple[datetime, str]] = []
        for transition in job.transitions[seen_transitions:]:
            status = {
                "type": "status",
                "status": transition.status.value,
                "message": transition.message,
                "timestamp": transition.start_time.isoformat(),
            }
            statuses.append((transition.start_time, json.dumps(status)))
        seen_transitions = len(job.transitions)
        # Lines stay in their stored order (their sequence numbers rise, which is how a follower
        # resumes and skips what it printed: hosts' clocks may put a later-stored line earlier);
        # each status change goes before the first line stamped after it.
        events: list[str] = []
        for line in lines:
            while statuses and statuses[0][0] <= line.timestamp:
                events.append(statuses.pop(0)[1])
            events.append(json.dumps({"type": "log", **log_line_public(line)}))
            after = line.seq
        events.extend(text for _, text in statuses)
        if events:
            yield ("\n".join(events) + "\n").encode()
        if job.status.is_terminal() and len(lines) < LOG_PAGE_LINES:
            # One last read: lines stored between the describe and the terminal status are not lost.
            for line in await run_in_threadpool(jobs.logs, name, after, LOG_PAGE_LINES):
                yield (json.dumps({"type": "log", **log_line_public(line)}) + "\n").encode()
            yield (json.dumps({"type": "end", "status": job.status.value}) + "\n").encode()
            return
        if len(lines) < LOG_PAGE_LINES:
            await asyncio.sleep(FOLLOW_POLL_SECONDS)
