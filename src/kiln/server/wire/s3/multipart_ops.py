"""Multipart operations: Create/Complete/AbortMultipartUpload, UploadPart(Copy), ListParts."""

from __future__ import annotations

import io

from starlette.responses import Response

from kiln.server.wire.s3.checksums import CHECKSUM_ALGORITHMS
from kiln.server.wire.s3.context import OWNER, S3Request, xml_response
from kiln.server.wire.s3.errors import S3Error
from kiln.server.wire.s3.headers import attributes_from
from kiln.server.wire.s3.listing import parse_max_keys
from kiln.server.wire.s3.multipart import MultipartStaging, Part, RequestedPart, Upload
from kiln.server.wire.s3.object_ops import HashingReader, check_copy_conditions, copy_source
from kiln.server.wire.s3.payload import RequestBody
from kiln.server.wire.s3.streams import read_ahead
from kiln.server.wire.s3.xmlcodec import MAX_REQUEST_XML_BYTES, Node, child_text, children, parse_xml

__all__ = [
    "abort_multipart_upload",
    "complete_multipart_upload",
    "create_multipart_upload",
    "list_parts",
    "upload_part",
    "upload_part_copy",
]

MAX_COMPLETE_XML_BYTES = 4 * MAX_REQUEST_XML_BYTES  # 10,000 parts with their checksums


async def create_multipart_upload(s3: S3Request) -> Response:
    key = s3.checked_key()
    algorithm = s3.headers.get("x-amz-checksum-algorithm")
    if algorithm is not None and algorithm.upper() not in CHECKSUM_ALGORITHMS:
        raise S3Error.invalid_request(
            f"checksum algorithm {algorithm!r} is not supported; use one of {', '.join(CHECKSUM_ALGORITHMS)}"
        )
    attributes = attributes_from(s3.headers, s3.headers.get("content-encoding"))
    upload = await s3.blocking(
        s3.staging.create, s3.bucket, key, attributes, algorithm.upper() if algorithm else None
    )
    headers = {"x-amz-checksum-algorithm": upload.checksum_algorithm} if upload.checksum_algorithm else {}
    if upload.checksum_algorithm:
        headers["x-amz-checksum-type"] = "COMPOSITE"
    nodes: list[Node] = [("Bucket", s3.bucket), ("Key", key), ("UploadId", upload.upload_id)]
    return xml_response("InitiateMultipartUploadResult", nodes, headers=headers)


async def _upload(s3: S3Request) -> Upload:
    return await s3.blocking(s3.staging.load, s3.bucket, s3.checked_key(), s3.query["uploadId"])


async def upload_part(s3: S3Request) -> Response:
    number = MultipartStaging.check_part_number(s3.query.get("partNumber", ""))
    upload = await _upload(s3)
    body = RequestBody(s3.request.stream(), s3.headers)
    data_uri = s3.staging.new_part_uri(upload, number)
    async with read_ahead(body.chunks()) as source:
        await s3.blocking(s3.objects.store.put_stream, source, data_uri)
    part = await s3.blocking(
        s3.staging.record_part, upload, number, data_uri, f'"{body.md5.hex()}"', body.size, body.checksum
    )
    headers = {"ETag": part.etag}
    if part.checksum is not None:
        headers[f"x-amz-checksum-{part.checksum[0].lower()}"] = part.checksum[1]
    return Response(status_code=200, headers=headers)


async def upload_part_copy(s3: S3Request) -> Response:
    number = MultipartStaging.check_part_number(s3.query.get("partNumber", ""))
    upload = await _upload(s3)
    part = await s3.blocking(_copy_part, s3, upload, number)
    return xml_response("CopyPartResult", [("ETag", part.etag), ("LastModified", part.modified)])


def _copy_part(s3: S3Request, upload: Upload, number: int) -> Part:
    source_bucket, source_key = copy_source(s3.headers["x-amz-copy-source"])
    source = s3.objects.head(source_bucket, source_key)
    check_copy_conditions(s3.headers, source)
    first, last = _copy_range(s3.headers.get("x-amz-copy-source-range"), source.size)
    data_uri = s3.staging.new_part_uri(upload, number)
    with s3.objects.open(source_bucket, source_key) as stream:
        stream.seek(first)
        reader = HashingReader(stream, last - first + 1)
        s3.objects.store.put_stream(io.BufferedReader(reader), data_uri)
    return s3.staging.record_part(upload, number, data_uri, f'"{reader.md5.hexdigest()}"', reader.size, None)


def _copy_range(header: str | None, size: int) -> tuple[int, int]:
    if header is None:
        return 0, size - 1
    value = header.strip().removeprefix("bytes=")
    first_text, _, last_text = value.partition("-")
    if not (first_text.isdigit() and last_text.isdigit()) or int(last_text) < int(first_text):
        raise S3Error.invalid_argument(
            "The x-amz-copy-source-range value must be of the form bytes=first-last where first and last are "
            "the zero-based offsets of the first and last bytes to copy",
            "x-amz-copy-source-range",
            header,
        )
    if int(last_text) >= size:
        raise S3Error.invalid_range(header, size)
    return int(first_text), int(last_text)


async def complete_multipart_upload(s3: S3Request) -> Response:
    upload = await _upload(s3)
    body = await RequestBody(s3.request.stream(), s3.headers).read_all(MAX_COMPLETE_XML_BYTES)
    document = parse_xml(body, "CompleteMultipartUpload")
    requested = []
    for element in children(document, "Part"):
        number_text = (child_text(element, "PartNumber") or "").strip()
        etag = (child_text(element, "ETag") or "").strip()
        if not number_text.isdigit() or not etag:
            raise S3Error.malformed_xml("every <Part> needs a <PartNumber> and an <ETag>")
        checksums = {
            algorithm: value.strip()
            for algorithm in CHECKSUM_ALGORITHMS
            if (value := child_text(element, f"Checksum{algorithm}")) is not None
        }
        requested.append(RequestedPart(int(number_text), etag, checksums))
    head = await s3.blocking(s3.staging.complete, upload, requested)
    base = str(s3.request.base_url).rstrip("/")
    nodes: list[Node] = [
        ("Location", f"{base}/{s3.bucket}/{upload.key}"),
        ("Bucket", s3.bucket),
        ("Key", upload.key),
        ("ETag", head.etag),
    ]
    return xml_response("CompleteMultipartUploadResult", nodes)


async def abort_multipart_upload(s3: S3Request) -> Response:
    upload = await _upload(s3)
    await s3.blocking(s3.staging.abort, upload)
    return Response(status_code=204)


async def list_parts(s3: S3Request) -> Response:
    upload = await _upload(s3)
    parts = await s3.blocking(s3.staging.parts, upload)
    marker_text = s3.query.get("part-number-marker", "0")
    marker = int(marker_text) if marker_text.isdigit() else 0
    max_parts = parse_max_keys(s3.query.get("max-parts"), "max-parts")
    after = [part for part in parts if part.number > marker]
    page, truncated = after[:max_parts], len(after) > max_parts
    nodes: list[Node] = [
        ("Bucket", s3.bucket),
        ("Key", upload.key),
        ("UploadId", upload.upload_id),
        ("PartNumberMarker", marker),
        ("NextPartNumberMarker", page[-1].number if page else marker),
        ("MaxParts", max_parts),
        ("IsTruncated", truncated),
        ("ChecksumAlgorithm", upload.checksum_algorithm),
        *[
            (
                "Part",
                _part_nodes(part),
            )
            for part in page
        ],
        ("Initiator", OWNER),
        ("Owner", OWNER),
        ("StorageClass", "STANDARD"),
    ]
    return xml_response("ListPartsResult", nodes)


def _part_nodes(part: Part) -> list[Node]:
    return [
        ("PartNumber", part.number),
        ("LastModified", part.modified),
        ("ETag", part.etag),
        ("Size", part.size),
        *([(f"Checksum{part.checksum[0]}", part.checksum[1])] if part.checksum else []),
    ]
