"""Annotated dependency aliases, so routes say what they need in one word (from ``server.state``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from kiln.artifacts import ArtifactStore
from kiln.server.state import request_state
from kiln.services import TrainingJobService
from kiln.services.access_keys import AccessKeyService
from kiln.services.capacity import CapacityService
from kiln.services.cluster import ClusterService
from kiln.services.endpoint_metrics import EndpointMetrics
from kiln.services.endpoints import EndpointService
from kiln.services.pipelines.service import PipelineService
from kiln.services.processing_jobs import ProcessingJobService
from kiln.services.transform import TransformJobService
from kiln.services.tuning.jobs import TuningJobService

__all__ = [
    "AccessKeys",
    "Capacity",
    "Cluster",
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
    return request_state(request).training_jobs


def _endpoints(request: Request) -> EndpointService:
    return request_state(request).endpoints


def _tuning_jobs(request: Request) -> TuningJobService:
    return request_state(request).tuning_jobs


def _store(request: Request) -> ArtifactStore:
    return request_state(request).store


def _endpoint_metrics(request: Request) -> EndpointMetrics:
    return request_state(request).endpoint_metrics


def _transform_jobs(request: Request) -> TransformJobService:
    return request_state(request).transform_jobs


def _processing_jobs(request: Request) -> ProcessingJobService:
    return request_state(request).processing_jobs


def _pipelines(request: Request) -> PipelineService:
    return request_state(request).pipelines


def _capacity(request: Request) -> CapacityService:
    return request_state(request).capacity


def _cluster(request: Request) -> ClusterService:
    return request_state(request).cluster


def _access_keys(request: Request) -> AccessKeyService:
    return request_state(request).access_keys


TrainingJobs = Annotated[TrainingJobService, Depends(_training_jobs)]
Store = Annotated[ArtifactStore, Depends(_store)]
Endpoints = Annotated[EndpointService, Depends(_endpoints)]
TuningJobs = Annotated[TuningJobService, Depends(_tuning_jobs)]
EndpointMetricsStore = Annotated[EndpointMetrics, Depends(_endpoint_metrics)]
TransformJobs = Annotated[TransformJobService, Depends(_transform_jobs)]
ProcessingJobs = Annotated[ProcessingJobService, Depends(_processing_jobs)]
Pipelines = Annotated[PipelineService, Depends(_pipelines)]
Capacity = Annotated[CapacityService, Depends(_capacity)]
Cluster = Annotated[ClusterService, Depends(_cluster)]
AccessKeys = Annotated[AccessKeyService, Depends(_access_keys)]
