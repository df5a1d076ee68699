"""A CreateTransformJob request's URIs confined, and the stored request turned into a TransformPlan.

Checks that need no data run when the job is created (a bad request is refused at once, as SageMaker
does: ``request`` parses it); the input objects are listed when the job starts, so an empty prefix
fails the job, not the call.
"""

from __future__ import annotations

import json
import posixpath
from typing import Any

from kiln.artifacts import ArtifactStore
from kiln.errors import NotFound, ValidationError
from kiln.services.transform.filters import compile_filter
from kiln.services.transform.request import DEFAULT_MAX_PAYLOAD_MB, CreateTransformJobRequest
from kiln.services.transform.worker import InputObject, TransformFailed, TransformPlan

__all__ = ["build_plan", "confine_uris", "list_inputs"]

DEFAULT_TIMEOUT_SECONDS = 600.0  # ModelClientConfig.InvocationsTimeoutInSeconds (SageMaker: 600, 1-3600)
DEFAULT_MAX_RETRIES = 3  # ModelClientConfig.InvocationsMaxRetries (SageMaker: 3, 0-3)


def confine_uris(request: CreateTransformJobRequest, store: ArtifactStore) -> None:
    """The input and output URIs must pass the store's one confinement rule (the rest of the request
    was checked when it was parsed)."""
    s3 = request.TransformInput.DataSource.S3DataSource
    store.resolve_uri(s3.S3Uri, field="TransformInput S3Uri")
    store.resolve_uri(request.TransformOutput.S3OutputPath, field="TransformOutput S3OutputPath")


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
