"""A CreateTransformJob request checked against SageMaker's rules and turned into a TransformPlan.

Checks that need no data run when the job is created (a bad request is refused at once, as SageMaker
does); the input objects are listed when the job starts, so an empty prefix fails the job, not the call.
"""

from __future__ import annotations

import json
import posixpath
from typing import Any

from kiln.artifacts import ArtifactStore
from kiln.errors import NotFound, ValidationError
from kiln.services.transform.filters import compile_filter
from kiln.services.transform.worker import InputObject, TransformFailed, TransformPlan

__all__ = ["build_plan", "list_inputs", "validate_request"]

DEFAULT_MAX_PAYLOAD_MB = 6
MAX_PAYLOAD_MB = 100
DEFAULT_TIMEOUT_SECONDS = 600.0  # ModelClientConfig.InvocationsTimeoutInSeconds (SageMaker: 600, 1-3600)
DEFAULT_MAX_RETRIES = 3  # ModelClientConfig.InvocationsMaxRetries (SageMaker: 3, 0-3)


def _choice(value: Any, field: str, allowed: tuple[str, ...]) -> str:
    if value not in allowed:
        raise ValidationError(f"{field} {value!r} is not valid; use one of {', '.join(allowed)}")
    return str(value)


def _source(request: dict[str, Any]) -> dict[str, Any]:
    data_source = (request.get("TransformInput") or {}).get("DataSource") or {}
    s3 = data_source.get("S3DataSource")
    if not isinstance(s3, dict) or not s3.get("S3Uri"):
        raise ValidationError(
            "TransformInput.DataSource.S3DataSource.S3Uri is required: "
            "the S3 prefix (or manifest file) of the input"
        )
    return s3


def validate_request(request: dict[str, Any], store: ArtifactStore) -> None:
    """Refuse what SageMaker refuses at CreateTransformJob, with the field, the value and the fix."""
    transform_input = request.get("TransformInput") or {}
    s3 = _source(request)
    _choice(s3.get("S3DataType", "S3Prefix"), "S3DataType", ("S3Prefix", "ManifestFile"))
    store.resolve_uri(str(s3["S3Uri"]), field="TransformInput S3Uri")
    _choice(transform_input.get("SplitType", "None"), "SplitType", ("None", "Line", "RecordIO"))
    _choice(transform_input.get("CompressionType", "None"), "CompressionType", ("None", "Gzip"))
    output = request.get("TransformOutput") or {}
    if not output.get("S3OutputPath"):
        raise ValidationError("TransformOutput.S3OutputPath is required: where the .out objects go")
    store.resolve_uri(str(output["S3OutputPath"]), field="TransformOutput S3OutputPath")
    _choice(output.get("AssembleWith", "None"), "AssembleWith", ("None", "Line"))
    _choice(request.get("BatchStrategy", "MultiRecord"), "BatchStrategy", ("SingleRecord", "MultiRecord"))
    payload = request.get("MaxPayloadInMB", DEFAULT_MAX_PAYLOAD_MB)
    if not isinstance(payload, int) or not 0 <= payload <= MAX_PAYLOAD_MB:
        raise ValidationError(f"MaxPayloadInMB {payload!r} must be a whole number from 0 to {MAX_PAYLOAD_MB}")
    concurrency = request.get("MaxConcurrentTransforms", 1)
    if not isinstance(concurrency, int) or concurrency < 0:
        raise ValidationError(f"MaxConcurrentTransforms {concurrency!r} must be a whole number ≥ 0")
    if max(concurrency, 1) * max(payload, 1) > MAX_PAYLOAD_MB:
        raise ValidationError(
            f"MaxConcurrentTransforms × MaxPayloadInMB is {concurrency * payload}, over SageMaker's "
            f"{MAX_PAYLOAD_MB}; lower one of them"
        )
    resources = request.get("TransformResources") or {}
    count = resources.get("InstanceCount", 1)
    if not isinstance(count, int) or count < 1:
        raise ValidationError(f"TransformResources.InstanceCount {count!r} must be a whole number ≥ 1")
    processing = request.get("DataProcessing") or {}
    compile_filter(processing.get("InputFilter"), "InputFilter")
    compile_filter(processing.get("OutputFilter"), "OutputFilter")
    _choice(processing.get("JoinSource", "None"), "JoinSource", ("None", "Input"))
    client = request.get("ModelClientConfig") or {}
    timeout = client.get("InvocationsTimeoutInSeconds", DEFAULT_TIMEOUT_SECONDS)
    if not isinstance(timeout, (int, float)) or not 1 <= timeout <= 3600:
        raise ValidationError(f"InvocationsTimeoutInSeconds {timeout!r} must be from 1 to 3600")
    retries = client.get("InvocationsMaxRetries", DEFAULT_MAX_RETRIES)
    if not isinstance(retries, int) or not 0 <= retries <= 3:
        raise ValidationError(f"InvocationsMaxRetries {retries!r} must be from 0 to 3")
    environment = request.get("Environment") or {}
    if not all(isinstance(k, str) and isinstance(v, str) for k, v in environment.items()):
        raise ValidationError("Environment must map names to strings")


def _manifest_inputs(store: ArtifactStore, uri: str) -> list[InputObject]:
    with store.open(uri) as stream:
        try:
            entries = json.loads(stream.read())
        except ValueError as e:
            raise TransformFailed(f"ClientError: the manifest {uri} is not JSON: {e}") from e
    if (
        not isinstance(entries, list)
        or not entries
        or not isinstance(entries[0], dict)
        or "prefix" not in entries[0]
    ):
        raise TransformFailed(
            f'ClientError: the manifest {uri} must be a JSON list starting with {{"prefix": "s3://..."}} '
            "followed by object names relative to it"
        )
    prefix = str(entries[0]["prefix"]).rstrip("/")
    objects = [InputObject(f"{prefix}/{name}", str(name)) for name in entries[1:]]
    for item in objects:
        try:  # the manifest names objects too: the same confinement rule as a request's URIs
            store.resolve_uri(item.uri, field=f"the manifest {uri}'s object")
        except ValidationError as e:
            raise TransformFailed(f"ClientError: {e.message}") from e
    return objects


def list_inputs(store: ArtifactStore, s3: dict[str, Any]) -> list[InputObject]:
    """Every object the data source names: all keys starting with the S3Prefix, or the manifest's list."""
    uri = str(s3["S3Uri"])
    if s3.get("S3DataType") == "ManifestFile":
        return _manifest_inputs(store, uri)
    try:
        if store.is_dir(uri):
            folder, start = uri.rstrip("/"), ""
        else:
            folder, start = posixpath.dirname(uri.rstrip("/")), posixpath.basename(uri)
        found = store.list_objects(folder, recursive=True)
    except NotFound:
        found = []
    base = folder.rstrip("/") + "/"
    objects = []
    for info in found:
        if info.is_dir or not info.uri.startswith(base):
            continue
        key = info.uri[len(base) :]
        if key.startswith(start):  # S3Prefix semantics: every key that starts with it
            objects.append(InputObject(info.uri, key))
    if not objects:
        raise TransformFailed(
            f"ClientError: no objects under the input S3Uri {uri}; upload the input data first"
        )
    return objects


def build_plan(request: dict[str, Any], objects: list[InputObject]) -> TransformPlan:
    transform_input = request.get("TransformInput") or {}
    output = request.get("TransformOutput") or {}
    processing = request.get("DataProcessing") or {}
    client = request.get("ModelClientConfig") or {}
    payload_mb = request.get("MaxPayloadInMB", DEFAULT_MAX_PAYLOAD_MB) or DEFAULT_MAX_PAYLOAD_MB
    content_type = str(transform_input.get("ContentType") or "application/octet-stream")
    return TransformPlan(
        objects=tuple(objects),
        output_path=str(output["S3OutputPath"]),
        content_type=content_type,
        accept=str(output.get("Accept") or content_type),
        split_type=str(transform_input.get("SplitType", "None")),
        strategy=str(request.get("BatchStrategy", "MultiRecord")),
        max_payload_bytes=int(payload_mb) * 1024 * 1024,
        concurrency=max(1, int(request.get("MaxConcurrentTransforms") or 1)),
        assemble_with=str(output.get("AssembleWith", "None")),
        gzip_input=transform_input.get("CompressionType") == "Gzip",
        input_filter=compile_filter(processing.get("InputFilter"), "InputFilter"),
        output_filter=compile_filter(processing.get("OutputFilter"), "OutputFilter"),
        join_input=processing.get("JoinSource") == "Input",
        timeout_seconds=float(client.get("InvocationsTimeoutInSeconds", DEFAULT_TIMEOUT_SECONDS)),
        max_retries=int(client.get("InvocationsMaxRetries", DEFAULT_MAX_RETRIES)),
    )
