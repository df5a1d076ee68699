"""Object operations: PutObject, GetObject (ranges), HeadObject, DeleteObject, CopyObject."""

from __future__ import annotations

import hashlib
import io
from collections.abc import Iterator
from contextlib import AbstractContextManager
from typing import IO, Any
from urllib.parse import unquote

from starlette.datastructures import Headers
from starlette.responses import Response, StreamingResponse

from kiln.server.wire.s3.context import S3Request, xml_response
from kiln.server.wire.s3.errors import S3Error
from kiln.server.wire.s3.headers import attributes_from, byte_range, not_modified, object_headers
from kiln.server.wire.s3.naming import check_key
from kiln.server.wire.s3.objects import ObjectAttributes, ObjectHead
from kiln.server.wire.s3.payload import RequestBody
from kiln.server.wire.s3.streams import read_ahead
from kiln.server.wire.s3.xmlcodec import Node

__all__ = [
    "HashingReader",
    "check_copy_conditions",
    "copy_object",
    "copy_source",
    "delete_object",
    "get_object",
    "head_object",
    "put_object",
]

READ_CHUNK_BYTES = 1 << 20
EMPTY_MD5 = hashlib.md5(b"").hexdigest()
RESPONSE_OVERRIDES = {
    "response-content-type": "Content-Type",
    "response-content-language": "Content-Language",
    "response-expires": "Expires",
    "response-cache-control": "Cache-Control",
    "response-content-disposition": "Content-Disposition",
    "response-content-encoding": "Content-Encoding",
}


def checksum_headers(head: ObjectHead) -> dict[str, str]:
    if head.checksum is None:
        return {}
    algorithm, value = head.checksum
    return {f"x-amz-checksum-{algorithm.lower()}": value, "x-amz-checksum-type": "FULL_OBJECT"}


async def put_object(s3: S3Request) -> Response:
    key = s3.checked_key()
    body = RequestBody(s3.request.stream(), s3.headers)
    attributes = attributes_from(s3.headers, body.content_encoding)
    await s3.blocking(s3.objects.require_bucket, s3.bucket)
    if key.endswith("/"):
        # A "folder/" marker: the store has folders but no objects named like one.
        if await body.read_all(0):
            raise S3Error.invalid_argument(
                f"key {key!r} ends with '/', so its object must be empty", "Key", key
            )
        await s3.blocking(s3.objects.store.make_folder, s3.objects.object_uri(s3.bucket, key))
        return Response(status_code=200, headers={"ETag": f'"{EMPTY_MD5}"'})
    conditional = s3.headers.get("if-none-match", "").strip() == "*"
    if conditional and await s3.blocking(_exists, s3, key):
        raise S3Error.precondition_failed("If-None-Match")
    async with read_ahead(body.chunks()) as source:
        written = await s3.blocking(s3.objects.write, s3.bucket, key, source)
    head = await s3.blocking(
        s3.objects.record, s3.bucket, key, written, f'"{body.md5.hex()}"', attributes, body.checksum
    )
    return Response(status_code=200, headers={"ETag": head.etag, **checksum_headers(head)})


def _exists(s3: S3Request, key: str) -> bool:
    try:
        s3.objects.stat(s3.bucket, key)
    except S3Error:
        return False
    return True


async def head_object(s3: S3Request) -> Response:
    key = s3.checked_key()
    head = await s3.blocking(s3.objects.head, s3.bucket, key)
    headers = object_headers(head)
    if not_modified(s3.headers, head):
        return Response(status_code=304, headers=_not_modified_headers(headers))
    span = byte_range(s3.headers.get("range"), head.size)
    if span is None:
        headers["Content-Length"] = str(head.size)
        if s3.headers.get("x-amz-checksum-mode", "").upper() == "ENABLED":
            headers.update(checksum_headers(head))
        return Response(status_code=200, headers=headers)
    first, last = span
    headers["Content-Length"] = str(last - first + 1)
    headers["Content-Range"] = f"bytes {first}-{last}/{head.size}"
    return Response(status_code=206, headers=headers)


async def get_object(s3: S3Request) -> Response:
    key = s3.checked_key()
    opened, stream, head = await s3.blocking(s3.objects.open_with_head, s3.bucket, key)
    try:
        status, headers, first, length = _get_answer(s3, head)
    except BaseException:
        opened.__exit__(None, None, None)
        raise
    if status == 304:
        opened.__exit__(None, None, None)
        return Response(status_code=304, headers=headers)
    return StreamingResponse(_read(opened, stream, first, length), status, headers)


def _get_answer(s3: S3Request, head: ObjectHead) -> tuple[int, dict[str, str], int, int]:
    """GetObject's status, headers and byte span for ``head``, after the conditions and the range."""
    headers = object_headers(head)
    if not_modified(s3.headers, head):
        return 304, _not_modified_headers(headers), 0, 0
    for parameter, header in RESPONSE_OVERRIDES.items():
        if parameter in s3.query:
            headers[header] = s3.query[parameter]
    span = byte_range(s3.headers.get("range"), head.size)
    status = 200
    if span is None:
        first, length = 0, head.size
        if s3.headers.get("x-amz-checksum-mode", "").upper() == "ENABLED":
            headers.update(checksum_headers(head))  # only whole objects: botocore checks what it reads
    else:
        first, length = span[0], span[1] - span[0] + 1
        headers["Content-Range"] = f"bytes {span[0]}-{span[1]}/{head.size}"
        status = 206
    headers["Content-Length"] = str(length)
    return status, headers, first, length


def _not_modified_headers(headers: dict[str, str]) -> dict[str, str]:
    return {name: headers[name] for name in ("ETag", "Last-Modified") if name in headers}


def _read(
    opened: AbstractContextManager[IO[bytes]], stream: IO[bytes], first: int, length: int
) -> Iterator[bytes]:
    """The body, a block at a time (Starlette iterates it on a worker thread); closes the stream."""
    try:
        if first:
            stream.seek(first)
        remaining = length
        while remaining > 0:
            block = stream.read(min(READ_CHUNK_BYTES, remaining))
            if not block:
                break
            remaining -= len(block)
            yield block
    finally:
        opened.__exit__(None, None, None)


async def delete_object(s3: S3Request) -> Response:
    key = s3.checked_key()
    await s3.blocking(s3.objects.require_bucket, s3.bucket)
    await s3.blocking(s3.objects.delete, s3.bucket, key)
    return Response(status_code=204)


def copy_source(header: str) -> tuple[str, str]:
    """The bucket and key of ``x-amz-copy-source`` (``[/]bucket/key[?versionId=…]``, URL-encoded)."""
    path = header.split("?", 1)[0]
    bucket, _, key = unquote(path).lstrip("/").partition("/")
    if not bucket or not key:
        raise S3Error.invalid_argument(
            "Copy Source must mention the source bucket and key: sourcebucket/sourcekey",
            "x-amz-copy-source",
            header,
        )
    return bucket, check_key(key)


def check_copy_conditions(headers: Headers, head: ObjectHead) -> None:
    """``x-amz-copy-source-if-*``: the If-* conditions, on the source; any failure is 412."""
    translated = Headers(
        {
            name.removeprefix("x-amz-copy-source-"): value
            for name, value in headers.items()
            if name.lower().startswith("x-amz-copy-source-if-")
        }
    )
    if not_modified(translated, head):
        raise S3Error.precondition_failed("x-amz-copy-source-If-None-Match or If-Modified-Since")


async def copy_object(s3: S3Request) -> Response:
    key = s3.checked_key()
    source_bucket, source_key = copy_source(s3.headers["x-amz-copy-source"])
    directive = s3.headers.get("x-amz-metadata-directive", "COPY").upper()
    if directive not in ("COPY", "REPLACE"):
        raise S3Error.invalid_argument(
            f"Unknown metadata directive {directive!r}; use COPY or REPLACE",
            "x-amz-metadata-directive",
            directive,
        )
    if (source_bucket, source_key) == (s3.bucket, key) and directive == "COPY":
        raise S3Error.invalid_request(
            "This copy request is illegal because it is trying to copy an object to itself without changing "
            "the object's metadata, storage class, website redirect location or encryption attributes."
        )
    await s3.blocking(s3.objects.require_bucket, s3.bucket)
    replaced = attributes_from(s3.headers) if directive == "REPLACE" else None
    head = await s3.blocking(_copy, s3, source_bucket, source_key, key, replaced)
    nodes: list[Node] = [("ETag", head.etag), ("LastModified", head.modified)]
    return xml_response("CopyObjectResult", nodes, headers=checksum_headers(head))


def _copy(
    s3: S3Request, source_bucket: str, source_key: str, key: str, replaced: ObjectAttributes | None
) -> ObjectHead:
    opened, stream, source = s3.objects.open_with_head(source_bucket, source_key)
    try:  # ``opened`` is entered already: leave it, whatever happens
        check_copy_conditions(s3.headers, source)
        reader = HashingReader(stream)
        written = s3.objects.write(s3.bucket, key, io.BufferedReader(reader))
    finally:
        opened.__exit__(None, None, None)
    # The copy's content is the source's: its full-object checksum still holds, its ETag is the MD5.
    etag = f'"{reader.md5.hexdigest()}"'
    attributes = replaced or source.attributes
    return s3.objects.record(s3.bucket, key, written, etag, attributes, source.checksum)


class HashingReader(io.RawIOBase):
    """Reads through to ``stream`` (at most ``limit`` bytes), keeping the MD5 and size of what passed."""

    def __init__(self, stream: IO[bytes], limit: int | None = None) -> None:
        self._stream = stream
        self._left = limit
        self.md5 = hashlib.md5()
        self.size = 0

    def readable(self) -> bool:
        return True

    def readinto(self, target: Any) -> int:
        view = memoryview(target).cast("B")
        wanted = len(view) if self._left is None else min(len(view), self._left)
        data = self._stream.read(wanted) if wanted else b""
        view[: len(data)] = data
        self.md5.update(data)
        self.size += len(data)
        if self._left is not None:
            self._left -= len(data)
        return len(data)
