"""Bucket operations: ListBuckets, Create/Head/DeleteBucket, GetBucketLocation, listings, DeleteObjects."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from urllib.parse import quote

from starlette.responses import Response

from kiln.server.wire.s3.context import OWNER, S3Request, xml_response
from kiln.server.wire.s3.errors import S3Error
from kiln.server.wire.s3.listing import decode_token, encode_token, list_page, parse_max_keys
from kiln.server.wire.s3.naming import check_key
from kiln.server.wire.s3.objects import ObjectHead, StoredEntry
from kiln.server.wire.s3.payload import RequestBody
from kiln.server.wire.s3.xmlcodec import (
    MAX_REQUEST_XML_BYTES,
    NAMESPACE,
    Node,
    child_text,
    children,
    parse_xml,
)

__all__ = [
    "create_bucket",
    "delete_bucket",
    "delete_objects",
    "get_bucket_location",
    "head_bucket",
    "list_buckets",
    "list_multipart_uploads",
    "list_objects",
    "list_objects_v2",
]

MAX_DELETE_KEYS = 1000  # S3's limit per DeleteObjects request
REGION = "us-east-1"  # S3 answers buckets of us-east-1 with an empty LocationConstraint


async def list_buckets(s3: S3Request) -> Response:
    buckets = await s3.blocking(s3.objects.list_buckets)
    nodes: list[Node] = [("Bucket", [("Name", name), ("CreationDate", created)]) for name, created in buckets]
    return xml_response("ListAllMyBucketsResult", [("Owner", OWNER), ("Buckets", nodes)])


async def create_bucket(s3: S3Request) -> Response:
    body = await RequestBody(s3.request.stream(), s3.headers).read_all(MAX_REQUEST_XML_BYTES)
    if body.strip():
        parse_xml(body, "CreateBucketConfiguration")  # a LocationConstraint: one store, any region
    await s3.blocking(s3.objects.create_bucket, s3.bucket)
    return Response(status_code=200, headers={"Location": f"/{s3.bucket}"})


async def head_bucket(s3: S3Request) -> Response:
    await s3.blocking(s3.objects.require_bucket, s3.bucket)
    return Response(status_code=200, headers={"x-amz-bucket-region": REGION})


async def delete_bucket(s3: S3Request) -> Response:
    await s3.blocking(s3.objects.delete_bucket, s3.bucket)
    return Response(status_code=204)


async def get_bucket_location(s3: S3Request) -> Response:
    await s3.blocking(s3.objects.require_bucket, s3.bucket)
    root = ET.Element("LocationConstraint", {"xmlns": NAMESPACE})
    return Response(ET.tostring(root, encoding="utf-8", xml_declaration=True), media_type="application/xml")


async def list_objects_v2(s3: S3Request) -> Response:
    query = s3.query
    prefix, delimiter = query.get("prefix", ""), query.get("delimiter", "")
    max_keys = parse_max_keys(query.get("max-keys"))
    token = query.get("continuation-token")
    start_after = query.get("start-after", "")
    after = decode_token(token) if token is not None else start_after
    entries = await s3.blocking(_entries, s3, prefix)
    page = list_page(entries, prefix, delimiter, after, max_keys)
    heads = await s3.blocking(_heads, s3, page.entries)
    encode = _encoder(query.get("encoding-type"))
    nodes: list[Node] = [
        ("Name", s3.bucket),
        ("Prefix", encode(prefix)),
        ("Delimiter", encode(delimiter) if delimiter else None),
        ("MaxKeys", max_keys),
        ("EncodingType", query.get("encoding-type")),
        ("KeyCount", len(page.entries) + len(page.common_prefixes)),
        ("ContinuationToken", token),
        ("NextContinuationToken", encode_token(page.last) if page.truncated else None),
        ("StartAfter", encode(start_after) if start_after else None),
        ("IsTruncated", page.truncated),
        *_contents(heads, encode, owner=query.get("fetch-owner") == "true"),
        *_common_prefixes(page.common_prefixes, encode),
    ]
    return xml_response("ListBucketResult", nodes)


async def list_objects(s3: S3Request) -> Response:
    """ListObjects (v1): ``marker`` instead of tokens; what ``bucket.objects.filter`` still sends."""
    query = s3.query
    prefix, delimiter = query.get("prefix", ""), query.get("delimiter", "")
    max_keys = parse_max_keys(query.get("max-keys"))
    marker = query.get("marker", "")
    entries = await s3.blocking(_entries, s3, prefix)
    page = list_page(entries, prefix, delimiter, marker, max_keys)
    heads = await s3.blocking(_heads, s3, page.entries)
    encode = _encoder(query.get("encoding-type"))
    nodes: list[Node] = [
        ("Name", s3.bucket),
        ("Prefix", encode(prefix)),
        ("Marker", encode(marker)),
        ("NextMarker", encode(page.last) if page.truncated else None),
        ("MaxKeys", max_keys),
        ("Delimiter", encode(delimiter) if delimiter else None),
        ("EncodingType", query.get("encoding-type")),
        ("IsTruncated", page.truncated),
        *_contents(heads, encode, owner=True),
        *_common_prefixes(page.common_prefixes, encode),
    ]
    return xml_response("ListBucketResult", nodes)


def _entries(s3: S3Request, prefix: str) -> list[StoredEntry]:
    s3.objects.require_bucket(s3.bucket)
    return s3.objects.list_entries(s3.bucket, prefix)


def _heads(s3: S3Request, entries: list[StoredEntry]) -> list[ObjectHead]:
    return [s3.objects.head_of_entry(s3.bucket, entry) for entry in entries]


def _encoder(encoding_type: str | None):  # type: ignore[no-untyped-def]
    if encoding_type is None:
        return lambda value: value
    if encoding_type != "url":
        raise S3Error.invalid_argument(
            "Invalid Encoding Method specified in Request", "encoding-type", encoding_type
        )
    # botocore decodes with unquote_plus, so '+' must travel as %2B and a space as %20.
    return lambda value: quote(value, safe="/")


def _contents(heads: list[ObjectHead], encode, owner: bool) -> list[Node]:  # type: ignore[no-untyped-def]
    return [
        (
            "Contents",
            [
                ("Key", encode(head.key)),
                ("LastModified", head.modified),
                ("ETag", head.etag),
                ("ChecksumAlgorithm", head.checksum[0] if head.checksum else None),
                ("Size", head.size),
                ("Owner", OWNER if owner else None),
                ("StorageClass", "STANDARD"),
            ],
        )
        for head in heads
    ]


def _common_prefixes(prefixes: list[str], encode) -> list[Node]:  # type: ignore[no-untyped-def]
    return [("CommonPrefixes", [("Prefix", encode(prefix))]) for prefix in prefixes]


async def delete_objects(s3: S3Request) -> Response:
    body = await RequestBody(s3.request.stream(), s3.headers).read_all(MAX_REQUEST_XML_BYTES)
    document = parse_xml(body, "Delete")
    quiet = (child_text(document, "Quiet") or "").strip().lower() == "true"
    keys = [child_text(item, "Key") for item in children(document, "Object")]
    if not keys or len(keys) > MAX_DELETE_KEYS:
        raise S3Error.malformed_xml(
            f"DeleteObjects takes 1 to {MAX_DELETE_KEYS} <Object> elements, got {len(keys)}"
        )
    results = await s3.blocking(_delete_each, s3, keys)
    nodes: list[Node] = []
    for key, error in results:
        if error is None:
            if not quiet:
                nodes.append(("Deleted", [("Key", key)]))
        else:
            nodes.append(("Error", [("Key", key), ("Code", error.code), ("Message", error.message)]))
    return xml_response("DeleteResult", nodes)


def _delete_each(s3: S3Request, keys: list[str | None]) -> list[tuple[str, S3Error | None]]:
    s3.objects.require_bucket(s3.bucket)
    results: list[tuple[str, S3Error | None]] = []
    for key in keys:
        try:
            if not key:
                raise S3Error.invalid_argument("an <Object> has no <Key>", "Key", "")
            s3.objects.delete(s3.bucket, check_key(key))
        except S3Error as e:
            results.append((key or "", e))
        else:
            results.append((key, None))
    return results


async def list_multipart_uploads(s3: S3Request) -> Response:
    uploads = await s3.blocking(_uploads, s3)
    prefix = s3.query.get("prefix", "")
    nodes: list[Node] = [
        ("Bucket", s3.bucket),
        ("KeyMarker", ""),
        ("UploadIdMarker", ""),
        ("Prefix", prefix),
        ("MaxUploads", 1000),
        ("IsTruncated", False),
    ]
    for upload in uploads:
        if upload.key.startswith(prefix):
            nodes.append(
                (
                    "Upload",
                    [
                        ("Key", upload.key),
                        ("UploadId", upload.upload_id),
                        ("Initiator", OWNER),
                        ("Owner", OWNER),
                        ("StorageClass", "STANDARD"),
                        ("Initiated", upload.initiated),
                    ],
                )
            )
    return xml_response("ListMultipartUploadsResult", nodes)


def _uploads(s3: S3Request):  # type: ignore[no-untyped-def]
    s3.objects.require_bucket(s3.bucket)
    return s3.staging.list_uploads(s3.bucket)
