"""/api/v1/limits, /api/v1/usage and /api/v1/instance-types: capacity, limits, cost."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query

from kiln.scheduler import USAGE_GROUPINGS
from kiln.server.deps import Capacity
from kiln.server.schemas.capacity import capacity_public, instance_type_public, limit_public, usage_public

router = APIRouter(tags=["capacity"])


@router.get("/limits")
def limits(capacity: Capacity) -> dict[str, Any]:
    """Account limits per instance type and use, with current utilization, and the machine's capacity."""
    return {
        "Limits": [limit_public(limit) for limit in capacity.limits()],
        "Capacity": capacity_public(capacity.snapshot()),
    }


@router.get("/usage")
def usage(
    capacity: Capacity,
    since: str | None = Query(None, description="YYYY-MM-DD or ISO time; default: all time"),
    by: str = Query("type", description=f"one of: {', '.join(USAGE_GROUPINGS)}"),
) -> dict[str, Any]:
    """Instance-seconds and estimated cost at reference prices, by instance type, job or endpoint."""
    start, lines = capacity.usage(since=since, by=by)
    return usage_public(start, by, lines)


@router.get("/instance-types")
def instance_types(capacity: Capacity) -> dict[str, Any]:
    """Every known instance type and what one instance of it gets on this machine."""
    return {"InstanceTypes": [instance_type_public(fit) for fit in capacity.instance_types()]}
