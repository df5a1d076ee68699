"""Annotated dependency aliases, so routes say what they need in one word."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from kiln.artifacts import ArtifactStore
from kiln.services import TrainingJobService
from kiln.services.endpoint_metrics import EndpointMetrics
from kiln.services.endpoints import EndpointService
from kiln.services.pipelines.service import PipelineService
from kiln.services.processing_jobs import ProcessingJobService
from kiln.services.transform import TransformJobService
from kiln.services.tuning.jobs import TuningJobService

__all__ = [
    "EndpointMetricsStore",
    "Endpoints",
    "Pipelines",
    "ProcessingJobs",
    "Store",
    "TrainingJobs",
    "TransformJobs",
    "TuningJobs",
]


def _training_jobs(request: Request) -> TrainingJobService:
    service: TrainingJobService = request.app.state.training_jobs
    return service


def _endpoints(request: Request) -> EndpointService:
    service: EndpointService = request.app.state.endpoints
    return service


def _tuning_jobs(request: Request) -> TuningJobService:
    service: TuningJobService = request.app.state.tuning_jobs
    return service


def _store(request: Request) -> ArtifactStore:
    store: ArtifactStore = request.app.state.store
    return store


TrainingJobs = Annotated[TrainingJobService, Depends(_training_jobs)]
Store = Annotated[ArtifactStore, Depends(_store)]
Endpoints = Annotated[EndpointService, Depends(_endpoints)]
TuningJobs = Annotated[TuningJobService, Depends(_tuning_jobs)]


def _endpoint_metrics(request: Request) -> EndpointMetrics:
    metrics: EndpointMetrics = request.app.state.endpoint_metrics
    return metrics


EndpointMetricsStore = Annotated[EndpointMetrics, Depends(_endpoint_metrics)]


def _transform_jobs(request: Request) -> TransformJobService:
    service: TransformJobService = request.app.state.transform_jobs
    return service


TransformJobs = Annotated[TransformJobService, Depends(_transform_jobs)]


def _processing_jobs(request: Request) -> ProcessingJobService:
    service: ProcessingJobService = request.app.state.processing_jobs
    return service


ProcessingJobs = Annotated[ProcessingJobService, Depends(_processing_jobs)]


def _pipelines(request: Request) -> PipelineService:
    service: PipelineService = request.app.state.pipelines
    return service


Pipelines = Annotated[PipelineService, Depends(_pipelines)]
