"""Training jobs as use-cases: create, describe, list, stop, logs and metrics.

The lifecycle (launch, what hosts report, stop, restart, recovery, capacity) is the host-job
lifecycle shared with processing jobs (``host_jobs.py``); this module adds what is a training job's
own: its request's validation and the training-job views of the shared table.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kiln import metadata
from kiln.algorithms import add_metric_definitions
from kiln.artifacts.archives import ArchiveLimits
from kiln.metadata.training_jobs import TRAINING_JOBS
from kiln.records import CapacityUse, MetricValue, TrainingJob, TrainingJobStatus
from kiln.services.host_jobs import HostJobService
from kiln.services.job_validation import validate_training_request
from kiln.services.status_filter import parse_status
from kiln.services.training_request import CreateTrainingJobRequest

__all__ = ["TrainingJobService"]


@dataclass
class TrainingJobService(HostJobService):
    """Training jobs, on the lifecycle every host job shares (the server's one instance of it)."""

    def create(
        self,
        request: CreateTrainingJobRequest,
        *,
        tuning_job: str | None = None,
        use: CapacityUse | None = None,
        as_submitted: dict[str, Any] | None = None,
    ) -> TrainingJob:
        """Check what needs the store and the catalog, check the account limits (ResourceLimitExceeded
        at once), then start the job or leave it Pending until the scheduler admits it. A tuning job's
        trial names its ``tuning_job`` (stored as ``TuningJobName``); ``use`` defaults to TUNING for
        trials, else TRAINING. A door that keeps members Kiln does not act on (the AWS wire echoes
        them in Describe) passes the request ``as_submitted``, which is stored instead."""
        validate_training_request(
            request,
            self.store,
            self.capacity.instance_type,
            auth_enabled=self.settings.auth_enabled,
            archive_limits=ArchiveLimits.from_settings(self.settings),
        )
        if use is None:
            use = CapacityUse.TUNING if tuning_job else CapacityUse.TRAINING
        spec = dict(as_submitted) if as_submitted is not None else request.spec
        add_metric_definitions(spec)  # a built-in algorithm's metrics, as SageMaker declares them
        if tuning_job:
            spec["TuningJobName"] = tuning_job
        return self.submit(request.TrainingJobName, spec, "training", use)

    def describe(self, name: str) -> TrainingJob:
        job = metadata.get_training_job(self.db, name)
        if job.kind != "training":
            raise TRAINING_JOBS.not_found(name)
        return job

    def list_jobs(
        self,
        *,
        status: str | None = None,
        name_contains: str | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[TrainingJob]:
        wanted = parse_status(TrainingJobStatus, status, "training job")
        return metadata.list_training_jobs(
            self.db, status=wanted, name_contains=name_contains, limit=limit, offset=offset
        )

    def stop(self, name: str) -> TrainingJob:
        job = metadata.get_training_job(self.db, name, details=False)
        if job.kind != "training":
            raise TRAINING_JOBS.not_found(name)
        return self.stop_job(job)

    def metrics(self, name: str, metric: str | None = None) -> list[MetricValue]:
        return metadata.list_metric_values(self.db, name, metric=metric)
