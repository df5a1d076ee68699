"""The cluster page: the executor's nodes, what each holds, and which job host or endpoint instance runs
where (the same view as ``kiln cluster``)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from kiln.server.console import services
from kiln.server.console.login import ConsoleAccess
from kiln.server.console.templating import render

__all__ = ["router"]

router = APIRouter()

GIB = 1024**3


@router.get("/cluster")
def cluster(request: Request, _access: ConsoleAccess) -> Response:
    return render(request, "cluster.html", view=services.cluster(request).view(), gib=GIB)
