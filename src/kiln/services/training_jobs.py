"""Training jobs as use-cases: create, describe, list, stop, logs and metrics.

The lifecycle (launch, what hosts report, stop, restart, recovery, capacity) is the host-job
lifecycle shared with processing jobs (``host_jobs.py``); this module adds what is a training job's
own: its request's validation and the training-job views of the shared table.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kiln import metadata
from kiln.artifacts.archives import ArchiveLimits
from kiln.metadata.training_jobs import TRAINING_JOBS
from kiln.records import CapacityUse, MetricValue, TrainingJob, TrainingJobStatus
from kiln.services.host_jobs import HostJobService
from kiln.services.job_validation import validate_training_request
from kiln.services.status_filter import parse_status

__all__ = ["TrainingJobService"]


@dataclass
class TrainingJobService(HostJobService):
    """Training jobs, on the lifecycle every host job shares (the server's one instance of it)."""

    def create(self, request: dict[str, Any], *, use: CapacityUse | None = None) -> TrainingJob:
        """Validate, check the account limits (ResourceLimitExceeded at once), then start the job or
        leave it Pending until the scheduler admits it. ``use`` defaults to TUNING for a tuning job's
        trials (``TuningJobName`` set), else TRAINING."""
        validate_training_request(
            request,
            self.store,
            self.capacity.instance_type,
            auth_enabled=self.settings.auth_enabled,
            archive_limits=ArchiveLimits.from_settings(self.settings),
        )
        if use is None:
            use = CapacityUse.TUNING if request.get("TuningJobName") else CapacityUse.TRAINING
        return self.submit(request["TrainingJobName"], request, "training", use)

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
