"""The web console, served at ``/``: server-rendered pages over the services, live updates and actions
through the same REST API (``/api/v1``) that the SDK uses."""

from __future__ import annotations

from fastapi import APIRouter

from kiln.server.console import (
    cluster_pages,
    hosting_pages,
    login,
    overview_pages,
    pipeline_pages,
    processing_pages,
    static_files,
    training_pages,
    transform_pages,
    tuning_pages,
)

__all__ = ["console_router"]


def console_router() -> APIRouter:
    router = APIRouter(include_in_schema=False)
    router.include_router(static_files.router)
    router.include_router(login.router)
    router.include_router(overview_pages.router)
    router.include_router(cluster_pages.router)
    router.include_router(training_pages.router)
    router.include_router(tuning_pages.router)
    router.include_router(hosting_pages.router)
    router.include_router(transform_pages.router)
    router.include_router(processing_pages.router)
    router.include_router(pipeline_pages.router)
    return router
