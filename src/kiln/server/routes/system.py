"""/api/v1/health: is this a Kiln server, and (to a caller with credentials) which one."""

from __future__ import annotations

import os
from typing import Any

from fastapi import APIRouter, Request

import kiln
from kiln.server.state import request_state

router = APIRouter(tags=["system"])


@router.get("/health")
def health(request: Request) -> dict[str, Any]:
    """Open to anyone so that load balancers and ``kiln server status`` can probe it; an anonymous
    caller of a server with auth on learns only that it answers, not its pid or home folder."""
    known = request.scope.get("state", {}).get("principal") is not None
    if request_state(request).credentials.enabled and not known:
        return {"status": "ok"}
    return {
        "status": "ok",
        "version": kiln.__version__,
        "pid": os.getpid(),
        "home": str(request_state(request).settings.home),
    }
