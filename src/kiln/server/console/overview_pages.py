"""The overview (what runs now, what it costs this month) and usage and limits over a chosen period."""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter, Request
from fastapi.responses import Response

from kiln.errors import ValidationError
from kiln.records import EndpointStatus, utcnow
from kiln.scheduler import USAGE_GROUPINGS, UsageLine
from kiln.server.console import services
from kiln.server.console.login import ConsoleAccess
from kiln.server.console.templating import render
from kiln.services.capacity import LimitUsage

__all__ = ["router"]

router = APIRouter()

ACTIVE_LIMIT = 50
DEFAULT_USAGE_DAYS = 30


@router.get("/")
def overview(request: Request, _access: ConsoleAccess) -> Response:
    jobs = services.training_jobs(request)
    active = jobs.list_jobs(status="InProgress", limit=ACTIVE_LIMIT)
    running = [j for j in active if j.secondary_status.value != "Pending"]
    queued = [j for j in active if j.secondary_status.value == "Pending"]
    in_service = services.endpoints(request).list_endpoints(EndpointStatus.IN_SERVICE.value, ACTIVE_LIMIT)
    capacity = services.capacity(request)
    limits_in_use = [limit for limit in capacity.limits() if limit.current > 0]
    month_start = utcnow().replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    _, lines = capacity.usage(since=month_start.isoformat(), by="type")
    month_cost = sum(line.estimated_cost for line in lines)
    return render(
        request,
        "overview.html",
        running=running,
        queued=queued,
        endpoints=in_service,
        limits=limits_in_use,
        month_cost=month_cost,
        month_start=month_start,
    )


@router.get("/usage")
def usage(request: Request, _access: ConsoleAccess, since: str = "", by: str = "type") -> Response:
    capacity = services.capacity(request)
    since = since or (utcnow() - timedelta(days=DEFAULT_USAGE_DAYS)).date().isoformat()
    by = by if by in USAGE_GROUPINGS else "type"
    lines: list[UsageLine] = []
    limits: list[LimitUsage] = []
    error: str | None = None
    limits = capacity.limits()
    try:
        _, lines = capacity.usage(since=since, by=by)
    except ValidationError as e:
        error = e.message
    return render(
        request,
        "usage.html",
        since=since,
        by=by,
        groupings=USAGE_GROUPINGS,
        lines=lines,
        total=sum(line.estimated_cost for line in lines),
        total_seconds=sum(line.instance_seconds for line in lines),
        limits=limits,
        error=error,
    )
