"""A tuning job's trials as training jobs: their names and their CreateTrainingJob requests."""

from __future__ import annotations

import copy
import hashlib
import types
import typing
from typing import Any

from pydantic import BaseModel

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
    return parse_training_request(_acted_on(CreateTrainingJobRequest, request))


def _acted_on(model: type[BaseModel], data: dict[str, Any]) -> dict[str, Any]:
    """``data`` less the members ``model`` does not know: the definition keeps what the AWS wire
    accepted without acting on it (``OutputDataConfig.CompressionType``, which SDK v3 sends, …), and
    a trial, like a training job made through the wire, runs without them."""
    kept: dict[str, Any] = {}
    for key, value in data.items():
        field = model.model_fields.get(key)
        if field is None:
            continue
        inner = _model_in(field.annotation)
        if inner is not None and isinstance(value, dict):
            kept[key] = _acted_on(inner, value)
        elif inner is not None and isinstance(value, list):
            kept[key] = [_acted_on(inner, item) if isinstance(item, dict) else item for item in value]
        else:
            kept[key] = value
    return kept


def _model_in(annotation: Any) -> type[BaseModel] | None:
    """The pydantic model inside ``X``, ``X | None`` or ``list[X]``; None for plain values."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    if typing.get_origin(annotation) in (typing.Union, types.UnionType, list):
        for arg in typing.get_args(annotation):
            found = _model_in(arg)
            if found is not None:
                return found
    return None
