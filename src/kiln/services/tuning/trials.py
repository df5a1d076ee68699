"""A tuning job's trials as training jobs: their names and their CreateTrainingJob requests."""

from __future__ import annotations

import copy
import hashlib
from typing import Any

from kiln.services.training_request import (
    CreateTrainingJobRequest,
    TrainingJobSettingsShape,
    parse_training_request,
)

__all__ = ["trial_job_name", "trial_training_request"]

# TrainingJobDefinition fields that a trial's CreateTrainingJob request takes over as they are.
_COPIED_FIELDS = tuple(TrainingJobSettingsShape.model_fields)


def trial_job_name(tuning_job_name: str, number: int) -> str:
    """SageMaker's trial name, ``<tuning job>-<NNN>-<8 hex>``; the same for the same trial, always, so a
    restarted server finds the training job of a trial it had started."""
    digest = hashlib.sha1(f"{tuning_job_name}/{number}".encode()).hexdigest()[:8]
    return f"{tuning_job_name}-{number + 1:03d}-{digest}"


def trial_training_request(
    tuning_request: dict[str, Any], training_job_name: str, tuned: dict[str, str]
) -> CreateTrainingJobRequest:
    """The CreateTrainingJob request of one trial: the definition's static hyperparameters and the
    trial's tuned ones (the caller links it to its tuning job)."""
    definition = tuning_request.get("TrainingJobDefinition") or {}
    request: dict[str, Any] = {
        key: copy.deepcopy(definition[key]) for key in _COPIED_FIELDS if definition.get(key) is not None
    }
    request["TrainingJobName"] = training_job_name
    request["HyperParameters"] = {**(definition.get("StaticHyperParameters") or {}), **tuned}
    if "CheckpointConfig" in request:  # each trial checkpoints apart, or one would resume another's run
        uri = str(request["CheckpointConfig"]["S3Uri"]).rstrip("/")
        request["CheckpointConfig"]["S3Uri"] = f"{uri}/{training_job_name}"
    return parse_training_request(request)
