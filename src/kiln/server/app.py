"""The FastAPI application: REST API under /api/v1 (OpenAPI at /api/v1/openapi.json)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, FastAPI

import kiln
from kiln.artifacts import ArtifactStore
from kiln.config import Settings
from kiln.executors import Executor
from kiln.metadata import Database
from kiln.server.auth import check_token
from kiln.server.errors import install_error_handlers
from kiln.server.routes import artifacts, internal, system, training_jobs
from kiln.services import TrainingJobService

__all__ = ["create_app"]


def create_app(
    settings: Settings, db: Database, store: ArtifactStore, executor: Executor, server_url: str = ""
) -> FastAPI:
    app = FastAPI(
        title="Kiln",
        version=kiln.__version__,
        description="A self-hosted machine-learning platform with SageMaker's workflow.",
        openapi_url="/api/v1/openapi.json",
        docs_url="/api/v1/docs",
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.db = db
    app.state.store = store
    app.state.training_jobs = TrainingJobService(settings, db, store, executor, server_url)
    install_error_handlers(app)

    api = APIRouter(prefix="/api/v1")
    api.include_router(system.router)
    protected = APIRouter(dependencies=[Depends(check_token)])
    protected.include_router(training_jobs.router)
    protected.include_router(artifacts.router)
    protected.include_router(internal.router)
    api.include_router(protected)
    app.include_router(api)
    return app
