"""The FastAPI application: REST API under /api/v1 (OpenAPI at /api/v1/openapi.json)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, FastAPI

import kiln
from kiln.artifacts import ArtifactStore
from kiln.config import Settings
from kiln.executors import Executor
from kiln.metadata import Database
from kiln.scheduler import resolve_scheduler
from kiln.server.auth import check_token
from kiln.server.console import console_router
from kiln.server.errors import install_error_handlers
from kiln.server.routes import (
    access_keys,
    artifacts,
    capacity,
    hosting,
    internal,
    system,
    training_jobs,
    tuning_jobs,
)
from kiln.server.runtime_router import RuntimeRouter
from kiln.server.wire import WireDispatcher, wire_services
from kiln.services import TrainingJobService
from kiln.services.access_keys import AccessKeyService
from kiln.services.capacity import CapacityService
from kiln.services.endpoint_metrics import EndpointMetrics
from kiln.services.endpoints import EndpointService
from kiln.services.tuning.jobs import TuningJobService

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
    app.state.scheduler = resolve_scheduler(settings, db)  # capacity: limits, queue, grants (endpoints too)
    app.state.capacity = CapacityService(db, app.state.scheduler)
    app.state.training_jobs = TrainingJobService(
        settings, db, store, executor, server_url, scheduler=app.state.scheduler
    )
    app.state.tuning_jobs = TuningJobService(db, app.state.training_jobs)
    app.state.access_keys = AccessKeyService(db, settings.access_key_file)
    # SageMaker's runtime path is served ahead of FastAPI, and the AWS wire ahead of both: serve
    # ``app.state.asgi``, not ``app``.
    runtime = RuntimeRouter(app, settings.api_token)
    app.state.runtime_router = runtime
    app.state.asgi = WireDispatcher(
        runtime,
        app.state,
        wire_services(),
        auth=bool(settings.api_token),
        account_id=settings.aws_account_id,
    )
    app.state.endpoints = EndpointService(
        settings, db, store, executor, runtime, scheduler=app.state.scheduler
    )
    app.state.endpoint_metrics = EndpointMetrics(
        db, settings.endpoint_metrics_retention_seconds, enabled=settings.endpoint_metrics
    )
    app.state.asgi.metrics = app.state.endpoint_metrics.recorder  # counted in memory, stored by serve()
    install_error_handlers(app)

    api = APIRouter(prefix="/api/v1")
    api.include_router(system.router)
    protected = APIRouter(dependencies=[Depends(check_token)])
    protected.include_router(training_jobs.router)
    protected.include_router(capacity.router)
    protected.include_router(tuning_jobs.router)
    protected.include_router(artifacts.router)
    protected.include_router(internal.router)
    protected.include_router(hosting.router)
    protected.include_router(access_keys.router)
    api.include_router(protected)
    app.include_router(api)
    app.include_router(console_router())  # the web console at /
    return app
