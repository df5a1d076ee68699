"""The FastAPI application: REST API under /api/v1 (OpenAPI at /api/v1/openapi.json)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, FastAPI

import kiln
from kiln.artifacts import ArtifactStore
from kiln.config import Settings
from kiln.executors import Executor
from kiln.metadata import Database
from kiln.scheduler import resolve_scheduler
from kiln.server.auth import AuthGuard, check_token, require_host
from kiln.server.console import console_router
from kiln.server.credentials import Credentials
from kiln.server.errors import install_error_handlers
from kiln.server.routes import (
    access_keys,
    artifacts,
    capacity,
    cluster,
    hosting,
    internal,
    pipelines,
    processing_jobs,
    system,
    training_jobs,
    transform_jobs,
    tuning_jobs,
)
from kiln.server.runtime_router import RuntimeRouter
from kiln.server.schemas.pipelines import StepDescriber
from kiln.server.wire import WireDispatcher, is_aws_request, wire_services
from kiln.services import TrainingJobService
from kiln.services.access_keys import AccessKeyService
from kiln.services.capacity import CapacityService
from kiln.services.cluster import ClusterService
from kiln.services.endpoint_metrics import EndpointMetrics
from kiln.services.endpoints import EndpointService
from kiln.services.pipelines.engine import PipelineEngine
from kiln.services.pipelines.jobs import StepJobs
from kiln.services.pipelines.service import PipelineService
from kiln.services.processing_jobs import ProcessingJobService
from kiln.services.transform import TransformJobService
from kiln.services.tuning.jobs import TuningJobService

__all__ = ["create_app"]


def create_app(
    settings: Settings,
    db: Database,
    store: ArtifactStore,
    executor: Executor,
    server_url: str = "",
    credentials: Credentials | None = None,
) -> FastAPI:
    app = FastAPI(
        title="Kiln",
        version=kiln.__version__,
        description="A self-hosted machine-learning platform with SageMaker's workflow.",
        openapi_url="/api/v1/openapi.json",
        docs_url="/api/v1/docs",
        redoc_url=None,
    )
    # The server keeps a hash of the token, never the token (``serve`` has dropped it from settings).
    app.state.credentials = credentials or Credentials(settings.api_token)
    app.state.settings = settings
    app.state.db = db
    app.state.store = store
    # Capacity (limits, queue, grants; endpoints too) over what the executor says it can hand out.
    app.state.scheduler = resolve_scheduler(settings, db, executor.inventory(), elastic=executor.remote)
    app.state.capacity = CapacityService(db, app.state.scheduler)
    app.state.cluster = ClusterService(db, app.state.scheduler, executor)
    app.state.training_jobs = TrainingJobService(
        settings,
        db,
        store,
        executor,
        server_url,
        scheduler=app.state.scheduler,
        host_credential=app.state.credentials.host_credential,
    )
    app.state.tuning_jobs = TuningJobService(db, app.state.training_jobs)
    # Processing jobs share the training jobs' host-job lifecycle (one recovery, one supervisor).
    app.state.processing_jobs = ProcessingJobService(app.state.training_jobs)
    app.state.access_keys = AccessKeyService(db, settings.access_key_file)
    # Served: ``app.state.asgi``, not ``app``. From the outside in: AuthGuard checks every request's
    # credentials (the AWS wire's requests it leaves to the wire, which checks SigV4); the wire
    # dispatcher answers AWS protocols; the runtime router serves SageMaker's invocation path; FastAPI
    # serves the rest.
    runtime = RuntimeRouter(app)
    app.state.runtime_router = runtime
    wire = WireDispatcher(
        runtime,
        app.state,
        wire_services(),
        auth=settings.auth_enabled,
        account_id=settings.aws_account_id,
    )
    app.state.guard = AuthGuard(wire, app.state.credentials)
    app.state.guard.delegate(is_aws_request)
    app.state.asgi = app.state.guard
    app.state.endpoints = EndpointService(
        settings, db, store, executor, runtime, scheduler=app.state.scheduler
    )
    app.state.endpoint_metrics = EndpointMetrics(
        db, settings.endpoint_metrics_retention_seconds, enabled=settings.endpoint_metrics
    )
    app.state.transform_jobs = TransformJobService(
        settings, db, store, executor, scheduler=app.state.scheduler
    )
    runtime.metrics = app.state.endpoint_metrics.recorder  # counted in memory, stored by serve()
    # Pipelines create ordinary jobs through the services above; the supervisor runs the engine.
    app.state.pipelines = PipelineService(db)
    step_jobs = StepJobs(
        db,
        store,
        app.state.training_jobs,
        app.state.processing_jobs,
        app.state.tuning_jobs,
        app.state.transform_jobs,
        app.state.endpoints,
        StepDescriber(
            app.state.training_jobs,
            app.state.processing_jobs,
            app.state.tuning_jobs,
            app.state.transform_jobs,
            app.state.endpoints,
        ),
    )
    app.state.pipeline_engine = PipelineEngine(db, step_jobs)
    install_error_handlers(app)

    api = APIRouter(prefix="/api/v1")
    api.include_router(system.router)
    protected = APIRouter(dependencies=[Depends(check_token)])
    protected.include_router(training_jobs.router)
    protected.include_router(capacity.router)
    protected.include_router(cluster.router)
    protected.include_router(tuning_jobs.router)
    protected.include_router(artifacts.router)
    protected.include_router(hosting.router)
    protected.include_router(access_keys.router)
    protected.include_router(transform_jobs.router)
    protected.include_router(processing_jobs.router)
    protected.include_router(pipelines.router)
    api.include_router(protected)
    # Hosts report for their own job only: the route checks the job's credential, not the operator's.
    api.include_router(internal.router, dependencies=[Depends(require_host)])
    app.include_router(api)
    app.include_router(console_router())  # the web console at /
    return app
