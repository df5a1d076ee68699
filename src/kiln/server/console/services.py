"""The services a console page reads, from ``app.state`` (the same objects the REST routes use)."""

from __future__ import annotations

from fastapi import Request

from kiln.artifacts import ArtifactStore
from kiln.errors import ValidationError
from kiln.records import TrainingJob, utcnow
from kiln.scheduler import get_instance_type
from kiln.services import TrainingJobService
from kiln.services.capacity import CapacityService
from kiln.services.endpoints import EndpointService
from kiln.services.processing_jobs import ProcessingJobService
from kiln.services.tuning.jobs import TuningJobService

__all__ = [
    "capacity",
    "endpoints",
    "instance_type_names",
    "job_cost",
    "processing_jobs",
    "store",
    "training_jobs",
    "tuning_jobs",
]


def training_jobs(request: Request) -> TrainingJobService:
    service: TrainingJobService = request.app.state.training_jobs
    return service


def endpoints(request: Request) -> EndpointService:
    service: EndpointService = request.app.state.endpoints
    return service


def tuning_jobs(request: Request) -> TuningJobService | None:
    service: TuningJobService | None = getattr(request.app.state, "tuning_jobs", None)
    return service


def capacity(request: Request) -> CapacityService | None:
    service: CapacityService | None = getattr(request.app.state, "capacity", None)
    return service


def instance_type_names(request: Request) -> list[str]:
    """Every instance type this server knows (``local`` first), for the console's forms."""
    found = capacity(request)
    return [fit.instance_type.name for fit in found.instance_types()] if found else ["local"]


def store(request: Request) -> ArtifactStore:
    found: ArtifactStore = request.app.state.store
    return found


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
    service: ProcessingJobService = request.app.state.processing_jobs
    return service
