"""The services a console page reads, from ``app.state`` (the same objects the REST routes use)."""

from __future__ import annotations

from fastapi import Request

from kiln.artifacts import ArtifactStore
from kiln.errors import ValidationError
from kiln.records import TrainingJob, utcnow
from kiln.scheduler import get_instance_type
from kiln.server.state import request_state
from kiln.services import TrainingJobService
from kiln.services.capacity import CapacityService
from kiln.services.cluster import ClusterService
from kiln.services.endpoints import EndpointService
from kiln.services.pipelines.service import PipelineService
from kiln.services.processing_jobs import ProcessingJobService
from kiln.services.transform import TransformJobService
from kiln.services.tuning.jobs import TuningJobService

__all__ = [
    "capacity",
    "cluster",
    "endpoints",
    "instance_type_names",
    "job_cost",
    "pipelines",
    "processing_jobs",
    "store",
    "training_jobs",
    "transform_jobs",
    "tuning_jobs",
]


def training_jobs(request: Request) -> TrainingJobService:
    return request_state(request).training_jobs


def endpoints(request: Request) -> EndpointService:
    return request_state(request).endpoints


def tuning_jobs(request: Request) -> TuningJobService:
    return request_state(request).tuning_jobs


def capacity(request: Request) -> CapacityService:
    return request_state(request).capacity


def cluster(request: Request) -> ClusterService:
    return request_state(request).cluster


def transform_jobs(request: Request) -> TransformJobService:
    return request_state(request).transform_jobs


def pipelines(request: Request) -> PipelineService:
    return request_state(request).pipelines


def instance_type_names(request: Request) -> list[str]:
    """Every instance type this server knows (``local`` first), for the console's forms."""
    return [fit.instance_type.name for fit in capacity(request).instance_types()]


def store(request: Request) -> ArtifactStore:
    return request_state(request).store


def _reference_price(instance_type: str, cache: dict[str, float]) -> float:
    if instance_type not in cache:
        try:
            cache[instance_type] = get_instance_type(instance_type).price_per_hour
        except ValidationError:
            cache[instance_type] = 0.0  # an operator's type: its jobs store their price
    return cache[instance_type]


def job_cost(job: TrainingJob, prices: dict[str, float]) -> tuple[int, float]:
    """Billable instance-seconds so far and their estimated cost (as DescribeTrainingJob reports)."""
    billable = job.billable_seconds_at(utcnow())
    price = (
        job.price_per_hour if job.price_per_hour is not None else _reference_price(job.instance_type, prices)
    )
    return billable, round(billable / 3600 * price, 6)


def processing_jobs(request: Request) -> ProcessingJobService:
    return request_state(request).processing_jobs
