"""Training jobs: the paged list, a job's page, and the create form (also used to clone a job)."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from kiln.codecs.hyperparameters import display_hyperparameter
from kiln.errors import NotFound, ValidationError
from kiln.records import TrainingJobStatus, utcnow
from kiln.server.console import services
from kiln.server.console.login import ConsoleAccess
from kiln.server.console.templating import message_page, render

__all__ = ["router"]

router = APIRouter()

PAGE_SIZE = 50
LOG_LINES_RENDERED = 1000  # the page shows these; console.js follows from the last one
FRAMEWORK_HYPERPARAMETERS = ("sagemaker_",)


@router.get("/training-jobs")
def job_list(
    request: Request,
    _access: ConsoleAccess,
    status: str = "",
    name: str = "",
    page: int = Query(1, ge=1, le=100_000),
) -> Response:
    jobs = services.training_jobs(request)
    try:
        # One row more than a page tells whether there is a next page, without counting every row.
        found = jobs.list_jobs(
            status=status or None,
            name_contains=name or None,
            limit=PAGE_SIZE + 1,
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
        return "/training-jobs?" + urlencode({**query, "page": number})

    return render(
        request,
        "jobs.html",
        rows=rows,
        status=status,
        name=name,
        page=page,
        error=error,
        statuses=[s.value for s in TrainingJobStatus],
        in_progress=any(not job.status.is_terminal() for job in found),
        previous_link=page_link(page - 1) if page > 1 else None,
        next_link=page_link(page + 1) if len(found) > PAGE_SIZE else None,
    )


def _clone_defaults(spec: dict[str, Any]) -> dict[str, str]:
    """A finished job's request as the create form's field values."""
    hyperparameters = spec.get("HyperParameters", {})
    program = json.loads(hyperparameters.get("sagemaker_program", '""') or '""')
    source = json.loads(hyperparameters.get("sagemaker_submit_directory", '""') or '""')
    user = {k: v for k, v in hyperparameters.items() if not k.startswith(FRAMEWORK_HYPERPARAMETERS)}
    resources = spec.get("ResourceConfig", {})
    return {
        "entry_point": str(program),
        "source_uri": str(source),
        "hyperparameters": "\n".join(f"{k}={display_hyperparameter(v)}" for k, v in user.items()),
        "channels": "\n".join(
            f"{c['ChannelName']}={c['DataSource']['S3DataSource']['S3Uri']}"
            for c in spec.get("InputDataConfig", [])
        ),
        "instance_type": str(resources.get("InstanceType", "local")),
        "instance_count": str(resources.get("InstanceCount", 1)),
        "metrics": "\n".join(
            f"{m['Name']}={m['Regex']}"
            for m in spec.get("AlgorithmSpecification", {}).get("MetricDefinitions", [])
        ),
        "checkpoint_uri": str((spec.get("CheckpointConfig") or {}).get("S3Uri", "")),
        "max_run": str(spec.get("StoppingCondition", {}).get("MaxRuntimeInSeconds", 86400)),
    }


@router.get("/training-jobs/new")
def new_job(request: Request, _access: ConsoleAccess, clone: str = "") -> Response:
    defaults = {"instance_type": "local", "instance_count": "1", "max_run": "86400"}
    if clone:
        try:
            defaults = _clone_defaults(services.training_jobs(request).describe(clone).spec)
        except NotFound as e:
            return message_page(request, "No such training job", e.message, 404)
    return render(
        request,
        "job_new.html",
        defaults=defaults,
        clone=clone,
        instance_types=services.instance_type_names(request),
        bucket_uri=services.store(request).bucket_uri(),
    )


@router.get("/training-jobs/{name}")
def job_page(request: Request, name: str, _access: ConsoleAccess) -> Response:
    jobs = services.training_jobs(request)
    try:
        job = jobs.describe(name)
    except NotFound as e:
        return message_page(request, "No such training job", e.message, 404)
    lines = jobs.logs(name, 0, LOG_LINES_RENDERED)
    series: dict[str, list[tuple[float, float]]] = {}
    metrics = jobs.metrics(name)
    if metrics:
        # Every host reports its own values; one host's line (the first's) reads as the job's curve.
        first_host = min(m.host for m in metrics)
        start = min(m.timestamp for m in metrics)
        for m in metrics:
            if m.host == first_host:
                series.setdefault(m.name, []).append(((m.timestamp - start).total_seconds(), m.value))
    billable, cost = services.job_cost(job, {})
    hyperparameters = job.spec.get("HyperParameters", {})
    return render(
        request,
        "job.html",
        job=job,
        lines=lines,
        next_seq=lines[-1].seq if lines else 0,
        series=series,
        billable=billable,
        cost=cost,
        training_seconds=job.training_seconds(utcnow()),
        user_hyperparameters={
            k: v for k, v in hyperparameters.items() if not k.startswith(FRAMEWORK_HYPERPARAMETERS)
        },
        framework_hyperparameters={
            k: v for k, v in hyperparameters.items() if k.startswith(FRAMEWORK_HYPERPARAMETERS)
        },
        channels=job.spec.get("InputDataConfig", []),
        metric_definitions=job.spec.get("AlgorithmSpecification", {}).get("MetricDefinitions", []),
        artifacts=[a for a in (job.model_artifacts, job.output_artifacts) if a],
        terminal=job.status.is_terminal(),
        instance_types=services.instance_type_names(request),
    )
