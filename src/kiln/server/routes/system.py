"""/api/v1/health: is this a Kiln server, and which one."""

from __future__ import annotations

import os
from typing import Any

from fastapi import APIRouter, Request

import kiln

router = APIRouter(tags=["system"])


@router.get("/health")
def health(request: Request) -> dict[str, Any]:
    return {
        "status": "ok",
        "version": kiln.__version__,
        "pid": os.getpid(),
        "home": str(request.app.state.settings.home),
    }
