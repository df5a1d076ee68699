"""Batch transform jobs: the list, and a job's settings, progress, failure and logs."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from kiln.errors import NotFound, ValidationError
from kiln.records import utcnow
from kiln.server.console import services
from kiln.server.console.login import ConsoleAccess
from kiln.server.console.templating import message_page, render

__all__ = ["router"]

router = APIRouter()

LIST_LIMIT = 100
LOG_LINES_RENDERED = 500


@router.get("/transform-jobs")
def transform_list(request: Request, _access: ConsoleAccess, status: str = "", name: str = "") -> Response:
    service = services.transform_jobs(request)
    error = None
    found = []
    try:
        found = service.list_jobs(status=status or None, name_contains=name or None, limit=LIST_LIMIT)
    except ValidationError as e:
        error = e.message
    in_progress = any(not job.status.is_terminal() for job in found)
    return render(
        request,
        "transform_jobs.html",
        jobs=found,
        status=status,
        name=name,
        error=error,
        in_progress=in_progress,
    )


@router.get("/transform-jobs/{name}")
def transform_page(request: Request, name: str, _access: ConsoleAccess) -> Response:
    service = services.transform_jobs(request)
    try:
        job = service.describe(name)
    except NotFound as e:
        return message_page(request, "No such transform job", e.message, 404)
    spec = job.spec
    return render(
        request,
        "transform_job.html",
        job=job,
        source=spec["TransformInput"]["DataSource"]["S3DataSource"],
        transform_input=spec.get("TransformInput", {}),
        output=spec.get("TransformOutput", {}),
        processing=spec.get("DataProcessing") or {},
        billable=job.billable_seconds_at(utcnow()),
        streams=service.logs(name, LOG_LINES_RENDERED),
        terminal=job.status.is_terminal(),
    )
