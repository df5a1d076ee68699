"""Processing jobs as use-cases: create, describe, list, stop and logs.

A processing job is a host job: it runs on training hosts (``kiln.runtime.training`` runs SageMaker's
Processing container contract when its spec's kind is "processing") and goes through the lifecycle
every host job shares (``HostJobService``: queue, account limits under "processing", launch, stop,
restart re-adoption, logs, billable seconds and cost). This module adds a processing job's own
request checks and its views of the shared table.
"""

from __future__ import annotations

from dataclasses import dataclass

from kiln import metadata
from kiln.metadata.training_jobs import PROCESSING_JOBS
from kiln.records import CapacityUse, JobStatus, LogLine, TrainingJob
from kiln.services.host_jobs import HostJobService
from kiln.services.processing_request import CreateProcessingJobRequest
from kiln.services.processing_validation import validate_processing_request
from kiln.services.status_filter import parse_status

__all__ = ["ProcessingJobService"]

KIND = "processing"


@dataclass
class ProcessingJobService:
    jobs: HostJobService  # the server's one host-job lifecycle (its TrainingJobService)

    def create(self, request: CreateProcessingJobRequest) -> TrainingJob:
        """Check the instance type and the URIs, check the account limits for processing
        (ResourceLimitExceeded at once), then start the job or leave it waiting for capacity."""
        validate_processing_request(request, self.jobs.store, self.jobs.capacity.instance_type)
        return self.jobs.submit(request.ProcessingJobName, request.spec, KIND, CapacityUse.PROCESSING)

    def describe(self, name: str) -> TrainingJob:
        job = metadata.find_training_job(self.jobs.db, name)
        if job is None or job.kind != KIND:
            raise PROCESSING_JOBS.not_found(name)
        return job

    def list_jobs(
        self,
        *,
        status: str | None = None,
        name_contains: str | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[TrainingJob]:
        wanted = parse_status(JobStatus, status, "processing job")
        return metadata.list_training_jobs(
            self.jobs.db, status=wanted, name_contains=name_contains, limit=limit, offset=offset, kind=KIND
        )

    def stop(self, name: str) -> TrainingJob:
        return self.jobs.stop_job(self.describe(name))

    def logs(self, name: str, after_seq: int = 0, limit: int = 1000) -> list[LogLine]:
        self.describe(name)
        return self.jobs.logs(name, after_seq, limit)
