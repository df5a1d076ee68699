"""Amazon S3 (rest-xml) over Kiln's artifact store: ``handle_s3`` answers one signed S3 request.

The wire dispatcher (``kiln.server.wire``) has already told S3 apart from the other AWS services by
the SigV4 credential scope and verified the signature; this package picks the operation from the
method, the bucket and key (path-style or virtual-hosted) and the query's sub-resource, runs it
against the store, and answers in S3's XML, errors included. Modules:

- ``naming``: bucket and key of a request, and which names the store can hold;
- ``payload``: request bodies (aws-chunked framing, checksums, payload hash) streamed and verified;
- ``objects``: buckets and objects over the ``ArtifactStore``, with each object's S3 record;
- ``listing``: pages of a listing; ``multipart``: uploads staged in the store's hidden folder;
- ``bucket_ops``, ``object_ops``, ``multipart_ops``: the operations; ``xmlcodec``, ``headers``,
  ``errors``: the wire's shapes.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Awaitable, Callable

from starlette.datastructures import Headers, QueryParams
from starlette.requests import Request
from starlette.responses import Response

from kiln.artifacts import ArtifactStore
from kiln.errors import Conflict, InternalError, KilnError, NotFound, ValidationError
from kiln.server.wire.s3 import bucket_ops, multipart_ops, object_ops
from kiln.server.wire.s3.context import S3Request
from kiln.server.wire.s3.errors import S3Error
from kiln.server.wire.s3.multipart import MultipartStaging
from kiln.server.wire.s3.naming import Target, target_of
from kiln.server.wire.s3.objects import BucketStore
from kiln.server.wire.s3.xmlcodec import Node, render_xml

__all__ = ["S3Error", "handle_s3", "select_operation"]

logger = logging.getLogger(__name__)

Operation = Callable[[S3Request], Awaitable[Response]]

# Sub-resources S3 has and Kiln does not serve: refused with NotImplemented rather than mistaken
# for a plain object or bucket request (``PUT ?tagging`` must not overwrite the object).
UNSERVED_SUBRESOURCES = frozenset(
    [
        "accelerate",
        "acl",
        "analytics",
        "attributes",
        "cors",
        "encryption",
        "intelligent-tiering",
        "inventory",
        "legal-hold",
        "lifecycle",
        "logging",
        "metadataTable",
        "metrics",
        "notification",
        "object-lock",
        "ownershipControls",
        "policy",
        "policyStatus",
        "publicAccessBlock",
        "replication",
        "requestPayment",
        "restore",
        "retention",
        "select",
        "session",
        "tagging",
        "torrent",
        "versioning",
        "versions",
        "website",
    ]
)


async def handle_s3(request: Request, store: ArtifactStore) -> Response:
    """Answer one S3 request against ``store``; every failure becomes S3's ``<Error>`` answer."""
    request_id = secrets.token_hex(8).upper()
    try:
        target = target_of(_raw_path(request), request.headers.get("host", ""))
        operation = select_operation(request.method, target, request.query_params, request.headers)
        objects = BucketStore(store)
        s3 = S3Request(request, objects, MultipartStaging(objects), target.bucket, target.key)
        response = await operation(s3)
    except S3Error as e:
        response = error_response(e, request, request_id)
    except KilnError as e:
        response = error_response(_s3_error_of(e), request, request_id)
    except Exception as e:  # the boundary: a bug answers 500 in S3's shape, the server keeps running
        logger.exception("S3 %s %s failed", request.method, request.url.path)
        failure = S3Error("InternalError", f"We encountered an internal error: {type(e).__name__}: {e}", 500)
        response = error_response(failure, request, request_id)
    if response.status_code >= 400 and _may_have_unread_body(request):
        # A client that sent "Expect: 100-continue" holds its body back once it sees this answer,
        # while the server would read the next request's bytes as that body: start afresh.
        response.headers["Connection"] = "close"
    response.headers["x-amz-request-id"] = request_id
    response.headers["x-amz-id-2"] = request_id
    return response


def _may_have_unread_body(request: Request) -> bool:
    headers = request.headers
    return headers.get("content-length", "0") != "0" or "chunked" in headers.get("transfer-encoding", "")


def _raw_path(request: Request) -> str:
    raw = request.scope.get("raw_path")
    if isinstance(raw, bytes):
        return raw.decode("latin-1").split("?", 1)[0]
    return request.url.path.replace("%", "%25")  # already decoded: keep target_of's unquote a no-op


def select_operation(method: str, target: Target, query: QueryParams, headers: Headers) -> Operation:
    """The operation a request names, as botocore's rest-xml serializer spells each one."""
    for name in query:
        if name in UNSERVED_SUBRESOURCES:
            raise S3Error.not_implemented(f"{method} with the ?{name} sub-resource")
    if not target.bucket:
        if method == "GET":
            return bucket_ops.list_buckets
        raise S3Error.method_not_allowed(method, "SERVICE")
    if not target.key:
        return _bucket_operation(method, query)
    return _object_operation(method, query, headers)


def _bucket_operation(method: str, query: QueryParams) -> Operation:
    if method == "GET":
        if "location" in query:
            return bucket_ops.get_bucket_location
        if "uploads" in query:
            return bucket_ops.list_multipart_uploads
        if query.get("list-type") == "2":
            return bucket_ops.list_objects_v2
        return bucket_ops.list_objects
    if method == "HEAD":
        return bucket_ops.head_bucket
    if method == "PUT":
        return bucket_ops.create_bucket
    if method == "DELETE":
        return bucket_ops.delete_bucket
    if method == "POST" and "delete" in query:
        return bucket_ops.delete_objects
    raise S3Error.method_not_allowed(method, "BUCKET")


def _object_operation(method: str, query: QueryParams, headers: Headers) -> Operation:
    uploading = "uploadId" in query
    if method == "PUT":
        if uploading:
            return (
                multipart_ops.upload_part_copy
                if "x-amz-copy-source" in headers
                else multipart_ops.upload_part
            )
        return object_ops.copy_object if "x-amz-copy-source" in headers else object_ops.put_object
    if method == "GET":
        return multipart_ops.list_parts if uploading else object_ops.get_object
    if method == "HEAD":
        return object_ops.head_object
    if method == "DELETE":
        return multipart_ops.abort_multipart_upload if uploading else object_ops.delete_object
    if method == "POST":
        if "uploads" in query:
            return multipart_ops.create_multipart_upload
        if uploading:
            return multipart_ops.complete_multipart_upload
    raise S3Error.method_not_allowed(method, "OBJECT")


def _s3_error_of(error: KilnError) -> S3Error:
    """Kiln's errors from the store, in S3's words (the operations raise S3Error where they can)."""
    if isinstance(error, NotFound):
        return S3Error("NoSuchKey", error.message, 404)
    if isinstance(error, Conflict):
        # S3 has no file/folder clash; a key and a longer key under it cannot both be files.
        return S3Error.invalid_argument(error.message)
    if isinstance(error, ValidationError):
        return S3Error.invalid_argument(error.message)
    if isinstance(error, InternalError):
        return S3Error("InternalError", error.message, 500)
    return S3Error("InvalidRequest", error.message, error.http_status)


def error_response(error: S3Error, request: Request, request_id: str) -> Response:
    if request.method == "HEAD":  # HEAD answers carry no body; botocore reads the status alone
        return Response(status_code=error.status)
    nodes: list[Node] = [
        ("Code", error.code),
        ("Message", error.message),
        *error.fields.items(),
        ("Resource", request.url.path),
        ("RequestId", request_id),
        ("HostId", request_id),
    ]
    return Response(render_xml("Error", nodes, namespace=False), error.status, media_type="application/xml")
