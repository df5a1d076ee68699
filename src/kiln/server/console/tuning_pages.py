"""Hyperparameter tuning jobs: the list, and a job's trials (sortable), objective over time, best job."""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import Response

from kiln.errors import NotFound, ValidationError
from kiln.server.console import services
from kiln.server.console.login import ConsoleAccess
from kiln.server.console.templating import message_page, render

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
    if tuning is None:
        error = "This server has no hyperparameter tuning service."
    else:
        try:
            found = tuning.list_jobs(status=status or None, name_contains=name or None, limit=LIST_LIMIT)
        except ValidationError as e:
            error = e.message
    return render(request, "tuning_jobs.html", jobs=found, status=status, name=name, error=error)


@router.get("/tuning-jobs/{name}")
def tuning_page(
    request: Request, name: str, _access: ConsoleAccess, sort: str = "objective", order: str = ""
) -> Response:
    tuning = services.tuning_jobs(request)
    if tuning is None:
        return message_page(request, "No tuning", "This server has no hyperparameter tuning service.", 404)
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
