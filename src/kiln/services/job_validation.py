"""Checks a CreateTrainingJob request before anything is stored: each refusal names the field and value.

``check_training_request`` runs while the typed request is parsed (``training_request``);
``validate_training_request`` is the service's part, which needs the store and the catalog.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from kiln.algorithms import algorithm_for_image
from kiln.artifacts import ArtifactStore, local_path_of
from kiln.artifacts.archives import DEFAULT_ARCHIVE_LIMITS, SOURCE_HINT, ArchiveLimits, check_archive
from kiln.codecs.hyperparameters import decode_hyperparameter
from kiln.errors import ValidationError
from kiln.scheduler import InstanceType, get_instance_type

if TYPE_CHECKING:
    from kiln.services.training_request import CreateTrainingJobRequest

__all__ = [
    "JOB_NAME_PATTERN",
    "check_training_request",
    "confine_job_uris",
    "validate_job_name",
    "validate_training_request",
]

JOB_NAME_PATTERN = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$")  # SageMaker's, ≤63 characters
CHANNEL_NAME_PATTERN = re.compile(r"^[A-Za-z0-9\.\-_]+$")
MAX_HYPERPARAMETERS = 100
MAX_HYPERPARAMETER_KEY = 256
MAX_HYPERPARAMETER_VALUE = 2500
MAX_RUNTIME_LIMIT_SECONDS = 28 * 24 * 3600  # SageMaker's ceiling
MAX_PRIORITY = 1000  # Kiln's Priority: -1000 (last) … 1000 (first); 0 by default
MAX_ENTRYPOINT_ITEM = 256  # characters in one ContainerEntrypoint or ContainerArguments item
LOCAL_INSTANCE_TYPES = ("local", "local_gpu")  # SageMaker local mode's instance types


def validate_job_name(name: str, what: str = "TrainingJobName") -> None:
    if not JOB_NAME_PATTERN.match(name):
        raise ValidationError(
            f"{what} {name!r} is not valid: use 1-63 letters, digits and hyphens, starting and ending "
            "with a letter or digit (pattern ^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62})"
        )


def _validate_hyperparameters(hyperparameters: Any) -> dict[str, str]:
    if not isinstance(hyperparameters, dict):
        raise ValidationError(
            f"HyperParameters must be an object of strings, not {type(hyperparameters).__name__}"
        )
    if len(hyperparameters) > MAX_HYPERPARAMETERS:
        raise ValidationError(
            f"HyperParameters has {len(hyperparameters)} entries; at most {MAX_HYPERPARAMETERS} are allowed"
        )
    for key, value in hyperparameters.items():
        if not isinstance(key, str) or not key or len(key) > MAX_HYPERPARAMETER_KEY:
            raise ValidationError(
                f"hyperparameter name {key!r} must be 1-{MAX_HYPERPARAMETER_KEY} characters"
            )
        if not isinstance(value, str):
            raise ValidationError(
                f"hyperparameter {key!r} has the value {value!r} of type {type(value).__name__}; "
                "values must be strings (the SDK JSON-encodes them for you)"
            )
        if len(value) > MAX_HYPERPARAMETER_VALUE:
            raise ValidationError(
                f"hyperparameter {key!r} is {len(value)} characters long; at most "
                f"{MAX_HYPERPARAMETER_VALUE} are allowed"
            )
    return hyperparameters


def confine_job_uris(request: dict[str, Any], store: ArtifactStore, *, auth_enabled: bool) -> None:
    """Every URI the job names must pass the store's one confinement rule, before anything is read.

    In SageMaker local mode (instance type ``local``) with auth off, a ``file://`` output_path is
    written where it says, as SageMaker's local mode does; every input stays confined.
    """
    for channel in request.get("InputDataConfig") or []:
        uri = str((channel.get("DataSource") or {}).get("S3DataSource", {}).get("S3Uri", ""))
        if uri:
            store.resolve_uri(uri, field=f"channel {channel.get('ChannelName', '')!r}: input URI")
    submit = decode_hyperparameter(
        (request.get("HyperParameters") or {}).get("sagemaker_submit_directory", '""')
    )
    if submit and isinstance(submit, str):
        store.resolve_uri(submit, field="sagemaker_submit_directory")
    local = (request.get("ResourceConfig") or {}).get("InstanceType") in LOCAL_INSTANCE_TYPES
    output = (request.get("OutputDataConfig") or {}).get("S3OutputPath")
    if output:
        store.resolve_uri(
            str(output), field="OutputDataConfig.S3OutputPath", anywhere=local and not auth_enabled
        )
    checkpoint = (request.get("CheckpointConfig") or {}).get("S3Uri")
    if checkpoint:
        store.resolve_uri(str(checkpoint), field="CheckpointConfig.S3Uri")
    tensorboard = (request.get("TensorBoardOutputConfig") or {}).get("S3OutputPath")
    if tensorboard:
        store.resolve_uri(str(tensorboard), field="TensorBoardOutputConfig.S3OutputPath")


def check_training_request(request: CreateTrainingJobRequest) -> None:
    """What the request alone can tell, first problem first (runs as the typed request is parsed)."""
    validate_job_name(request.TrainingJobName)
    hyperparameters = _validate_hyperparameters(request.HyperParameters)
    program = decode_hyperparameter(hyperparameters.get("sagemaker_program", '""'))
    image = request.AlgorithmSpecification.TrainingImage
    entrypoint = request.AlgorithmSpecification.ContainerEntrypoint
    if request.AlgorithmSpecification.ContainerArguments and not entrypoint:
        raise ValidationError(
            "AlgorithmSpecification.ContainerArguments needs a ContainerEntrypoint: Kiln runs no "
            "containers, so there is no image entry point to pass them to"
        )
    for item in [*(entrypoint or []), *(request.AlgorithmSpecification.ContainerArguments or [])]:
        if len(item) > MAX_ENTRYPOINT_ITEM:
            raise ValidationError(
                f"AlgorithmSpecification.ContainerEntrypoint/ContainerArguments item {item[:40]!r}... "
                f"is {len(item)} characters long; SageMaker allows {MAX_ENTRYPOINT_ITEM}"
            )
    # A built-in algorithm needs no script, nor does a job that names its own command.
    if not program and not entrypoint and algorithm_for_image(image) is None:
        raise ValidationError(
            "the job has no entry point: set hyperparameter sagemaker_program (the SDK's entry_point) "
            "to the script to run, e.g. 'train.py'"
        )
    seen: set[str] = set()
    for channel in request.InputDataConfig:
        name = channel.ChannelName
        if not CHANNEL_NAME_PATTERN.match(name):
            raise ValidationError(f"channel name {name!r} must use letters, digits, '.', '-' and '_' only")
        if name in seen:
            raise ValidationError(f"channel {name!r} is given twice; channel names must be unique")
        seen.add(name)
        distribution = channel.DataSource.S3DataSource.S3DataDistributionType
        if distribution not in ("FullyReplicated", "ShardedByS3Key"):
            raise ValidationError(
                f"channel {name!r}: S3DataDistributionType {distribution!r} must be FullyReplicated "
                "or ShardedByS3Key"
            )
    max_run = request.StoppingCondition.MaxRuntimeInSeconds
    if not 1 <= max_run <= MAX_RUNTIME_LIMIT_SECONDS:
        raise ValidationError(
            f"StoppingCondition.MaxRuntimeInSeconds {max_run!r} must be between 1 and "
            f"{MAX_RUNTIME_LIMIT_SECONDS}"
        )
    for definition in request.AlgorithmSpecification.MetricDefinitions:
        try:
            re.compile(definition.Regex)
        except re.error as e:
            raise ValidationError(
                f"metric definition {definition.Name!r} has an invalid Regex {definition.Regex!r}: {e}"
            ) from e


def validate_training_request(
    request: CreateTrainingJobRequest,
    store: ArtifactStore,
    instance_type: Callable[[str], InstanceType] = get_instance_type,
    *,
    auth_enabled: bool = True,
    archive_limits: ArchiveLimits = DEFAULT_ARCHIVE_LIMITS,
) -> None:
    """What needs the artifact store and the instance-type catalog: raise ValidationError for the
    first problem found; changes nothing. ``instance_type`` looks a type up (the scheduler's catalog
    knows the operator's types too)."""
    confine_job_uris(request.spec, store, auth_enabled=auth_enabled)
    submit = decode_hyperparameter(request.HyperParameters.get("sagemaker_submit_directory", '""'))
    if submit and not store.exists(str(submit)):
        raise ValidationError(
            f"sagemaker_submit_directory {submit!r} does not exist; upload the source archive first"
        )
    if submit and store.scheme == "file":  # read in place: a bad archive is refused now, not at start
        check_archive(
            local_path_of(store.resolve_uri(str(submit))),
            what=f"the source archive {submit}",
            folder="the code folder",
            hint=SOURCE_HINT,
            limits=archive_limits,
        )
    instance_type(request.ResourceConfig.InstanceType)
    for channel in request.InputDataConfig:
        uri = channel.DataSource.S3DataSource.S3Uri
        if not store.exists(uri):
            raise ValidationError(
                f"channel {channel.ChannelName!r}: input URI {uri!r} does not exist; upload the data "
                "first (Session.upload_data or `kiln upload`) and pass the URI it returns"
            )
