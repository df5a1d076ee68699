"""Processing jobs: the paged list and a job's page (inputs, outputs, command, log, timeline)."""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from kiln.errors import NotFound, ValidationError
from kiln.records import JobStatus, utcnow
from kiln.server.console import services
from kiln.server.console.login import ConsoleAccess
from kiln.server.console.templating import message_page, render

__all__ = ["router"]

router = APIRouter()

PAGE_SIZE = 50
LOG_LINES_RENDERED = 1000  # the page shows these; console.js follows from the last one


@router.get("/processing-jobs")
def job_list(
    request: Request,
    _access: ConsoleAccess,
    status: str = "",
    name: str = "",
    page: int = Query(1, ge=1, le=100_000),
) -> Response:
    jobs = services.processing_jobs(request)
    try:
        found = jobs.list_jobs(
            status=status or None,
            name_contains=name or None,
            limit=PAGE_SIZE + 1,  # one more than a page tells whether there is a next page
            offset=(page - 1) * PAGE_SIZE,
        )
        error = None
    except ValidationError as e:
        found, error = [], e.message
    prices: dict[str, float] = {}
    now = utcnow()
    rows = [(job, *services.job_cost(job, prices), job.training_seconds(now)) for job in found[:PAGE_SIZE]]

    def page_link(number: int) -> str:
        query = {k: v for k, v in (("status", status), ("name", name)) if v}
        return "/processing-jobs?" + urlencode({**query, "page": number})

    return render(
        request,
        "processing_jobs.html",
        rows=rows,
        status=status,
        name=name,
        page=page,
        error=error,
        statuses=[s.value for s in JobStatus],
        in_progress=any(not job.status.is_terminal() for job in found),
        previous_link=page_link(page - 1) if page > 1 else None,
        next_link=page_link(page + 1) if len(found) > PAGE_SIZE else None,
    )


@router.get("/processing-jobs/{name}")
def job_page(request: Request, name: str, _access: ConsoleAccess) -> Response:
    jobs = services.processing_jobs(request)
    try:
        job = jobs.describe(name)
    except NotFound as e:
        return message_page(request, "No such processing job", e.message, 404)
    lines = jobs.logs(name, 0, LOG_LINES_RENDERED)
    billable, cost = services.job_cost(job, {})
    app = job.spec.get("AppSpecification") or {}
    return render(
        request,
        "processing_job.html",
        job=job,
        lines=lines,
        next_seq=lines[-1].seq if lines else 0,
        billable=billable,
        cost=cost,
        seconds=job.training_seconds(utcnow()),
        image=app.get("ImageUri", ""),
        command=[*(app.get("ContainerEntrypoint") or []), *(app.get("ContainerArguments") or [])],
        inputs=[i for i in job.spec.get("ProcessingInputs") or [] if "S3Input" in i],
        outputs=[
            o for o in (job.spec.get("ProcessingOutputConfig") or {}).get("Outputs", []) if "S3Output" in o
        ],
        environment=job.spec.get("Environment") or {},
        terminal=job.status.is_terminal(),
    )
