"""S3's HTTP headers: object attributes in and out, byte ranges, conditional requests, dates."""

from __future__ import annotations

import re
from datetime import datetime, timezone
from email.utils import format_datetime, parsedate_to_datetime

from starlette.datastructures import Headers

from kiln.server.wire.s3.errors import S3Error
from kiln.server.wire.s3.objects import DEFAULT_CONTENT_TYPE, ObjectAttributes, ObjectHead

__all__ = [
    "attributes_from",
    "byte_range",
    "http_date",
    "not_modified",
    "object_headers",
]

STORED_HEADERS = ("Cache-Control", "Content-Disposition", "Content-Encoding", "Content-Language", "Expires")
META_PREFIX = "x-amz-meta-"
_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


def http_date(moment: datetime) -> str:
    """RFC 1123, as S3's Last-Modified: ``Fri, 04 Dec 2026 15:30:00 GMT``."""
    return format_datetime(moment.astimezone(timezone.utc).replace(microsecond=0), usegmt=True)


def _parse_http_date(value: str) -> datetime | None:
    try:
        parsed = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def attributes_from(headers: Headers, content_encoding: str | None = None) -> ObjectAttributes:
    """What a PutObject, CopyObject (REPLACE) or CreateMultipartUpload asks to keep with the object.

    ``content_encoding`` is the request's Content-Encoding without ``aws-chunked``, which frames the
    upload and is never the object's own encoding.
    """
    kept = {name: headers[name] for name in STORED_HEADERS if name in headers and name != "Content-Encoding"}
    if content_encoding:
        kept["Content-Encoding"] = content_encoding
    metadata = {
        name[len(META_PREFIX) :]: value
        for name, value in headers.items()
        if name.lower().startswith(META_PREFIX)
    }
    return ObjectAttributes(headers.get("content-type") or DEFAULT_CONTENT_TYPE, kept, metadata)


def object_headers(head: ObjectHead) -> dict[str, str]:
    """The headers HeadObject and GetObject answer with (before any range and overrides)."""
    headers = {
        "ETag": head.etag,
        "Last-Modified": http_date(head.modified),
        "Content-Type": head.attributes.content_type,
        "Accept-Ranges": "bytes",
        **head.attributes.headers,
    }
    for name, value in head.attributes.metadata.items():
        headers[f"{META_PREFIX}{name}"] = value
    if head.parts:
        headers["x-amz-mp-parts-count"] = str(head.parts)
    return headers


def byte_range(header: str | None, size: int) -> tuple[int, int] | None:
    """The inclusive ``(first, last)`` bytes a Range header asks for; None for the whole object.

    As S3 does, a header it cannot parse (or several ranges) is ignored and the whole object sent;
    a range that starts past the end is InvalidRange (416).
    """
    if header is None:
        return None
    match = _RANGE.match(header.strip())
    if match is None or (not match.group(1) and not match.group(2)):
        return None
    first_text, last_text = match.groups()
    if not first_text:  # "bytes=-N": the last N bytes
        suffix = int(last_text)
        if suffix == 0:
            raise S3Error.invalid_range(header, size)
        return (max(size - suffix, 0), size - 1) if size else None
    first = int(first_text)
    last = int(last_text) if last_text else size - 1
    if last < first:
        return None
    if first >= size:
        raise S3Error.invalid_range(header, size)
    return first, min(last, size - 1)


def not_modified(headers: Headers, head: ObjectHead) -> bool:
    """Check the If-* headers: PreconditionFailed (412) when one fails, True when the answer is 304."""
    if_match = headers.get("if-match")
    if if_match is not None and not _etag_matches(if_match, head.etag):
        raise S3Error.precondition_failed("If-Match")
    since = _parse_http_date(headers.get("if-unmodified-since", ""))
    if if_match is None and since is not None and head.modified.replace(microsecond=0) > since:
        raise S3Error.precondition_failed("If-Unmodified-Since")
    if_none_match = headers.get("if-none-match")
    if if_none_match is not None:
        return _etag_matches(if_none_match, head.etag)
    modified_since = _parse_http_date(headers.get("if-modified-since", ""))
    return modified_since is not None and head.modified.replace(microsecond=0) <= modified_since


def _etag_matches(condition: str, etag: str) -> bool:
    wanted = {tag.strip().removeprefix("W/").strip('"') for tag in condition.split(",")}
    return "*" in wanted or etag.strip('"') in wanted
