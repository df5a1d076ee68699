"""Hyperparameter tuning jobs: the list, and a job's trials (sortable), objective over time, best job."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from kiln.errors import NotFound, ValidationError
from kiln.server.console import services
from kiln.server.console.login import ConsoleAccess
from kiln.server.console.templating import message_page, render
from kiln.server.schemas.tuning_jobs import TrainingJobDefinitionShape

__all__ = ["router"]

router = APIRouter()

LIST_LIMIT = 100
SORT_COLUMNS = {
    "objective": "FinalObjectiveMetricValue",
    "name": "Name",
    "created": "CreationTime",
    "status": "Status",
}


@router.get("/tuning-jobs")
def tuning_list(request: Request, _access: ConsoleAccess, status: str = "", name: str = "") -> Response:
    tuning = services.tuning_jobs(request)
    error = None
    found = []
    try:
        found = tuning.list_jobs(status=status or None, name_contains=name or None, limit=LIST_LIMIT)
    except ValidationError as e:
        error = e.message
    in_progress = any(not o.job.status.is_terminal() for o in found)
    return render(
        request,
        "tuning_jobs.html",
        jobs=found,
        status=status,
        name=name,
        error=error,
        in_progress=in_progress,
    )


TEMPLATE_CHOICES = 100  # recent training jobs offered as the trials' template


def _definition(spec: dict[str, Any], output_uri: str) -> dict[str, Any]:
    """A TrainingJobDefinition that runs trials like the training job whose request is ``spec``."""
    definition = {
        key: spec[key] for key in TrainingJobDefinitionShape.model_fields if spec.get(key) is not None
    }
    definition.setdefault("OutputDataConfig", {"S3OutputPath": output_uri})
    definition["StaticHyperParameters"] = dict(spec.get("HyperParameters") or {})
    return definition


@router.get("/tuning-jobs/new")
def new_tuning_job(
    request: Request, _access: ConsoleAccess, source: str = Query("", alias="from")
) -> Response:
    """The create form: trials run like a training job the user picks (its code, data and resources)."""
    jobs = services.training_jobs(request)
    templates = [j for j in jobs.list_jobs(limit=TEMPLATE_CHOICES) if j.spec.get("AlgorithmSpecification")]
    if source:
        try:
            template = jobs.describe(source)
        except NotFound as e:
            return message_page(request, "No such training job", e.message, 404)
    elif templates:
        template = templates[0]
    else:
        return message_page(
            request,
            "No training job to tune",
            "A tuning job runs its trials like a training job: create one first (Training → Create).",
            404,
        )
    definition = _definition(template.spec, services.store(request).bucket_uri() + "/tuning")
    metrics = definition.get("AlgorithmSpecification", {}).get("MetricDefinitions", [])
    tuned = {k: v for k, v in definition["StaticHyperParameters"].items() if not k.startswith("sagemaker_")}
    return render(
        request,
        "tuning_new.html",
        source_job=template,
        templates=[j.name for j in templates if j.name != template.name],
        # Inside <script>: "<" escaped, so no value (a hyperparameter "</script>") can end the element.
        definition=json.dumps(definition).replace("<", "\\u003c"),
        metric_names=[m.get("Name", "") for m in metrics],
        hyperparameters=tuned,
    )


@router.get("/tuning-jobs/{name}")
def tuning_page(
    request: Request, name: str, _access: ConsoleAccess, sort: str = "objective", order: str = ""
) -> Response:
    tuning = services.tuning_jobs(request)
    sort = sort if sort in SORT_COLUMNS else "objective"
    order = order if order in ("Ascending", "Descending") else ""
    try:
        overview = tuning.describe(name)
        trials = tuning.trials(name, sort_by=SORT_COLUMNS[sort], sort_order=order or None)
    except NotFound as e:
        return message_page(request, "No such tuning job", e.message, 404)
    ended = sorted(
        (t for t in overview.trials if t.objective_value is not None),
        key=lambda t: t.training_end_time or t.creation_time,
    )
    start = overview.job.creation_time
    objective_points = [
        (((t.training_end_time or t.creation_time) - start).total_seconds(), t.objective_value or 0.0)
        for t in ended
    ]

    def sort_link(column: str) -> str:
        flipped = "Ascending" if order == "Descending" else "Descending"
        return f"/tuning-jobs/{name}?" + urlencode(
            {"sort": column, "order": flipped if column == sort else ""}
        )

    return render(
        request,
        "tuning_job.html",
        overview=overview,
        trials=trials,
        objective_points=objective_points,
        sort_link=sort_link,
        sort=sort,
        columns=sorted(overview.trials[0].tuned_hyperparameters) if overview.trials else [],
    )
