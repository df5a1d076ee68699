"""Checks a CreateProcessingJob request before anything is stored: each refusal names the field and value.

``check_processing_request`` runs while the typed request is parsed (``processing_request``), on the
request as sent, so a malformed member is refused in these words rather than the shape's;
``validate_processing_request`` is the service's part, which needs the catalog and the store.

The limits are SageMaker's (botocore's model and the Processing developer guide): ≤10 inputs and
outputs, every LocalPath under /opt/ml/processing/, ≤100 entrypoint / argument items of ≤256
characters, ≤100 environment variables. What Kiln cannot do is refused with what to use instead:
Pipe mode, Athena / Redshift dataset definitions, Feature Store outputs, and images other than
SageMaker's framework images (Kiln runs no containers).
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from kiln.artifacts import ArtifactStore
from kiln.errors import ValidationError
from kiln.images import parse_image_uri
from kiln.scheduler import InstanceType, get_instance_type
from kiln.services.job_validation import MAX_RUNTIME_LIMIT_SECONDS, validate_job_name

if TYPE_CHECKING:
    from kiln.services.processing_request import CreateProcessingJobRequest

__all__ = ["PROCESSING_ROOT", "check_processing_request", "validate_processing_request"]

PROCESSING_ROOT = "/opt/ml/processing/"  # every LocalPath lies under it (SageMaker's rule)
MAX_INPUTS = 10
MAX_OUTPUTS = 10
MAX_COMMAND_ITEMS = 100
MAX_COMMAND_ITEM_CHARS = 256
MAX_ENVIRONMENT = 100
MAX_ENVIRONMENT_VALUE = 256
MAX_INSTANCES = 100
MAX_PROCESSING_RUNTIME_SECONDS = 777600  # 9 days: CreateProcessingJob's ceiling
ENVIRONMENT_KEY = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
IO_NAME = re.compile(r"^[a-zA-Z0-9_\-.]{1,256}$")


def _local_path(path: Any, what: str) -> str:
    text = str(path or "")
    normal = posixpath.normpath(text)
    if not text.startswith(PROCESSING_ROOT) or not normal.startswith(PROCESSING_ROOT.rstrip("/")):
        raise ValidationError(
            f"{what} LocalPath {path!r} must be an absolute path under {PROCESSING_ROOT} "
            "(e.g. /opt/ml/processing/input), as SageMaker requires"
        )
    return normal


def _check_command(app: dict[str, Any]) -> None:
    parse_image_uri(str(app.get("ImageUri", "")))
    for field in ("ContainerEntrypoint", "ContainerArguments"):
        items = app.get(field)
        if items is None:
            continue
        if not isinstance(items, list) or not all(isinstance(i, str) for i in items):
            raise ValidationError(f"AppSpecification.{field} must be a list of strings, not {items!r}")
        if len(items) > MAX_COMMAND_ITEMS or any(len(i) > MAX_COMMAND_ITEM_CHARS for i in items):
            raise ValidationError(
                f"AppSpecification.{field} may hold at most {MAX_COMMAND_ITEMS} items of at most "
                f"{MAX_COMMAND_ITEM_CHARS} characters"
            )
    if not app.get("ContainerEntrypoint"):
        raise ValidationError(
            "AppSpecification.ContainerEntrypoint is required on Kiln: it runs no container images, so "
            "there is no image ENTRYPOINT to fall back on; give the command, e.g. "
            '["python3", "/opt/ml/processing/input/code/preprocess.py"] (ScriptProcessor does this)'
        )


def _check_inputs(inputs: list[dict[str, Any]], paths: set[str]) -> None:
    if len(inputs) > MAX_INPUTS:
        raise ValidationError(f"ProcessingInputs has {len(inputs)} entries; at most {MAX_INPUTS} are allowed")
    names: set[str] = set()
    for item in inputs:
        name = str(item.get("InputName", ""))
        if not IO_NAME.match(name) or name in names:
            raise ValidationError(
                f"InputName {name!r} must be a unique name of letters, digits, '_', '-', '.'"
            )
        names.add(name)
        if item.get("DatasetDefinition") is not None or item.get("AppManaged"):
            raise ValidationError(
                f"input {name!r}: Kiln copies S3Input data only; DatasetDefinition (Athena, Redshift) and "
                "AppManaged inputs are not supported: export the data to a URI and give it as S3Input"
            )
        s3 = item.get("S3Input")
        if not isinstance(s3, dict):
            raise ValidationError(f"input {name!r} has no S3Input (S3Uri, LocalPath, S3DataType)")
        local = _local_path(s3.get("LocalPath"), f"input {name!r}:")
        if local in paths:
            raise ValidationError(f"input {name!r}: LocalPath {local!r} is used twice; give each its own")
        paths.add(local)
        if s3.get("S3DataType") not in ("S3Prefix", "ManifestFile"):
            raise ValidationError(
                f"input {name!r}: S3DataType {s3.get('S3DataType')!r} must be S3Prefix or ManifestFile"
            )
        if s3.get("S3InputMode", "File") != "File":
            raise ValidationError(
                f"input {name!r}: S3InputMode {s3.get('S3InputMode')!r} is not supported: Kiln copies inputs "
                "before the script starts (File mode)"
            )
        distribution = s3.get("S3DataDistributionType", "FullyReplicated")
        if distribution not in ("FullyReplicated", "ShardedByS3Key"):
            raise ValidationError(
                f"input {name!r}: S3DataDistributionType {distribution!r} must be FullyReplicated "
                "or ShardedByS3Key"
            )
        if s3.get("S3CompressionType", "None") != "None":
            raise ValidationError(
                f"input {name!r}: S3CompressionType Gzip needs Pipe mode, which Kiln does not have"
            )


def _check_outputs(outputs: list[dict[str, Any]], paths: set[str]) -> None:
    if len(outputs) > MAX_OUTPUTS:
        raise ValidationError(
            f"ProcessingOutputConfig.Outputs has {len(outputs)} entries; at most {MAX_OUTPUTS}"
        )
    names: set[str] = set()
    for item in outputs:
        name = str(item.get("OutputName", ""))
        if not IO_NAME.match(name) or name in names:
            raise ValidationError(
                f"OutputName {name!r} must be a unique name of letters, digits, '_', '-', '.'"
            )
        names.add(name)
        s3 = item.get("S3Output")
        if item.get("FeatureStoreOutput") is not None or item.get("AppManaged") or not isinstance(s3, dict):
            raise ValidationError(
                f"output {name!r}: Kiln uploads S3Output folders only (S3Uri, LocalPath, S3UploadMode); "
                "FeatureStoreOutput and AppManaged outputs are not supported"
            )
        local = _local_path(s3.get("LocalPath"), f"output {name!r}:")
        if local in paths:
            raise ValidationError(f"output {name!r}: LocalPath {local!r} is used twice; give each its own")
        paths.add(local)
        if s3.get("S3UploadMode") not in ("EndOfJob", "Continuous"):
            raise ValidationError(
                f"output {name!r}: S3UploadMode {s3.get('S3UploadMode')!r} must be EndOfJob or Continuous"
            )


def _check_environment(environment: Any) -> None:
    if not isinstance(environment, dict) or len(environment) > MAX_ENVIRONMENT:
        raise ValidationError(f"Environment must be a map of at most {MAX_ENVIRONMENT} strings")
    for key, value in environment.items():
        if not ENVIRONMENT_KEY.match(str(key)):
            raise ValidationError(f"Environment key {key!r} must match [a-zA-Z_][a-zA-Z0-9_]*")
        if not isinstance(value, str) or len(value) > MAX_ENVIRONMENT_VALUE:
            raise ValidationError(
                f"Environment value of {key!r} must be a string of at most {MAX_ENVIRONMENT_VALUE} characters"
            )


def _members(value: Any) -> dict[str, Any]:
    """A member that should be an object; anything else reads as empty (the shape then names it)."""
    return value if isinstance(value, dict) else {}


def _items(value: Any) -> list[dict[str, Any]]:
    return [item if isinstance(item, dict) else {} for item in value] if isinstance(value, list) else []


def check_processing_request(request: dict[str, Any], members: Iterable[str]) -> None:
    """What the request alone can tell, run while it is parsed (``processing_request``, whose fields
    are CreateProcessingJob's ``members``): raise ValidationError for the first problem found."""
    unknown = sorted(set(request) - set(members))
    if unknown:
        raise ValidationError(
            f"CreateProcessingJob has no member {', '.join(map(repr, unknown))}; "
            f"its members are {', '.join(sorted(members))}"
        )
    validate_job_name(str(request.get("ProcessingJobName", "")), "ProcessingJobName")
    cluster = _members(request.get("ProcessingResources")).get("ClusterConfig")
    if not isinstance(cluster, dict):
        raise ValidationError("ProcessingResources.ClusterConfig (InstanceCount, InstanceType) is required")
    count = cluster.get("InstanceCount")
    if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= MAX_INSTANCES:
        raise ValidationError(
            f"ProcessingResources.ClusterConfig.InstanceCount {count!r} must be a whole number "
            f"from 1 to {MAX_INSTANCES}"
        )
    _check_command(_members(request.get("AppSpecification")))
    paths: set[str] = set()
    _check_inputs(_items(request.get("ProcessingInputs")), paths)
    _check_outputs(_items(_members(request.get("ProcessingOutputConfig")).get("Outputs")), paths)
    _check_environment(request.get("Environment") or {})
    max_run = _members(request.get("StoppingCondition")).get("MaxRuntimeInSeconds")
    limit = min(MAX_PROCESSING_RUNTIME_SECONDS, MAX_RUNTIME_LIMIT_SECONDS)
    if max_run is not None and not (isinstance(max_run, int) and 1 <= max_run <= limit):
        raise ValidationError(
            f"StoppingCondition.MaxRuntimeInSeconds {max_run!r} must be between 1 and {limit}"
        )


def validate_processing_request(
    request: CreateProcessingJobRequest,
    store: ArtifactStore,
    instance_type: Callable[[str], InstanceType] = get_instance_type,
) -> None:
    """The service's part, which needs the catalog and the store: the instance type, and every URI
    confined (inputs must exist). Raise ValidationError for the first problem found."""
    instance_type(request.ProcessingResources.ClusterConfig.InstanceType)
    for item in request.inputs:
        name, uri = item.InputName, item.S3Input.S3Uri
        store.resolve_uri(uri, field=f"input {name!r}: S3Uri")
        if not store.exists(uri):
            raise ValidationError(
                f"input {name!r}: S3Uri {uri!r} does not exist; upload the data first "
                "(Session.upload_data or `kiln upload`) and pass the URI it returns"
            )
    for output in request.outputs:
        store.resolve_uri(output.S3Output.S3Uri, field=f"output {output.OutputName!r}: S3Uri")
