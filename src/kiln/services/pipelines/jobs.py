"""What a pipeline step runs: an ordinary job or model, created and followed through the services
that create them for anyone else (so a step's job queues, is limited and recovers as any job does).

A step's properties are its job's Describe* response; the server passes the functions that build
those responses (``describe``), the same ones its REST and AWS doors answer with.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from kiln import metadata
from kiln.artifacts import ArtifactStore
from kiln.errors import Conflict, NotFound, UserError, ValidationError
from kiln.metadata import Database
from kiln.metadata import transform_jobs as transform_rows
from kiln.metadata import tuning_jobs as tuning_rows
from kiln.services.endpoints import EndpointService
from kiln.services.hosting_request import CreateModelRequest
from kiln.services.processing_jobs import ProcessingJobService
from kiln.services.processing_request import parse_processing_request
from kiln.services.request_members import parse_known
from kiln.services.training_jobs import TrainingJobService
from kiln.services.training_request import parse_training_request
from kiln.services.transform import TransformJobService
from kiln.services.transform.request import CreateTransformJobRequest
from kiln.services.tuning.jobs import TuningJobService
from kiln.services.tuning.request import CreateTuningJobRequest

__all__ = ["NAME_FIELDS", "JobState", "StepJobs"]

# The request member that names the job a step type creates, and the longest name it takes.
NAME_FIELDS = {
    "Training": ("TrainingJobName", 63),
    "Processing": ("ProcessingJobName", 63),
    "Tuning": ("HyperParameterTuningJobName", 32),
    "Transform": ("TransformJobName", 63),
    "Model": ("ModelName", 63),
    "CreateModel": ("ModelName", 63),
}


@dataclass(frozen=True)
class JobState:
    ended: bool
    succeeded: bool
    stopped: bool
    failure_reason: str | None


@dataclass
class StepJobs:
    db: Database
    store: ArtifactStore
    training_jobs: TrainingJobService
    processing_jobs: ProcessingJobService
    tuning_jobs: TuningJobService
    transform_jobs: TransformJobService
    endpoints: EndpointService
    describe: Callable[[str, str], dict[str, Any]]  # (step type, job name) → its Describe* response

    def create(self, step_type: str, request: dict[str, Any]) -> None:
        """Create the job; Conflict when it exists (a pass that a restart cut short created it)."""
        if step_type == "Training":
            self.training_jobs.create(parse_training_request(request))
        elif step_type == "Processing":
            self.processing_jobs.create(parse_processing_request(request))
        elif step_type == "Tuning":
            tuning, submitted = parse_known(CreateTuningJobRequest, request)
            self.tuning_jobs.create(tuning, as_submitted=submitted)
        elif step_type == "Transform":
            transform, submitted = parse_known(CreateTransformJobRequest, request)
            self.transform_jobs.create(transform, as_submitted=submitted)
        else:
            model, submitted = parse_known(CreateModelRequest, request)
            self.endpoints.create_model(model, as_submitted=submitted)

    def exists(self, step_type: str, name: str) -> bool:
        if step_type in ("Training", "Processing"):
            return metadata.find_training_job(self.db, name) is not None
        if step_type == "Tuning":
            return tuning_rows.find_tuning_job(self.db, name) is not None
        if step_type == "Transform":
            return transform_rows.find_transform_job(self.db, name) is not None
        try:
            self.endpoints.describe_model(name)
        except NotFound:
            return False
        return True

    def state(self, step_type: str, name: str) -> JobState:
        if step_type in ("Training", "Processing"):
            job = metadata.get_training_job(self.db, name)
            status, reason = job.status.value, job.failure_reason
        elif step_type == "Tuning":
            tuning = tuning_rows.get_tuning_job(self.db, name)
            status, reason = tuning.status.value, tuning.failure_reason
        elif step_type == "Transform":
            transform = self.transform_jobs.describe(name)
            status, reason = transform.status.value, transform.failure_reason
        else:
            return JobState(ended=True, succeeded=True, stopped=False, failure_reason=None)
        return JobState(
            ended=status in ("Completed", "Failed", "Stopped"),
            succeeded=status == "Completed",
            stopped=status == "Stopped",
            failure_reason=reason,
        )

    def stop(self, step_type: str, name: str) -> None:
        try:
            if step_type == "Training":
                self.training_jobs.stop(name)
            elif step_type == "Processing":
                self.processing_jobs.stop(name)
            elif step_type == "Tuning":
                self.tuning_jobs.stop(name)
            elif step_type == "Transform":
                self.transform_jobs.stop(name)
        except Conflict:
            pass  # it ended meanwhile; the next pass records how

    def read_json(self, uri: str) -> Any:
        """A JSON file a step wrote (a property file); a file that is not there fails the step that
        reads it, naming the file."""
        try:
            with self.store.open(uri) as stream:
                return json.loads(stream.read())
        except (OSError, ValueError, UserError) as e:
            detail = e.message if isinstance(e, UserError) else f"{type(e).__name__}: {e}"
            raise ValidationError(f"could not read the JSON file {uri}: {detail}") from None
