"""Which bucket and key a request names, and which names the store can hold.

Path-style requests (what botocore sends to any custom endpoint) carry ``/<bucket>/<key>``;
virtual-hosted ones (``Config(s3={"addressing_style": "virtual"})``) carry the bucket in the Host,
``<bucket>.localhost:<port>``. Keys become paths of the artifact store, so a key may not have an
empty, ``.`` or ``..`` segment, nor a segment that starts like the store's hidden staging names.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from urllib.parse import unquote

from kiln.artifacts import TEMP_PREFIX
from kiln.server.wire.s3.errors import S3Error

__all__ = ["Target", "check_bucket_name", "check_key", "is_bucket_name", "target_of"]

VIRTUAL_HOST_SUFFIX = ".localhost"  # <bucket>.localhost resolves to loopback (RFC 6761) without DNS
MAX_KEY_BYTES = 1024  # S3's limit on a key's UTF-8 length
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")


@dataclass(frozen=True)
class Target:
    bucket: str  # "" for the service (ListBuckets)
    key: str  # "" for a bucket


def target_of(raw_path: str, host: str) -> Target:
    """The bucket and key of a request: ``raw_path`` is the URL path still percent-encoded."""
    hostname = host.rsplit(":", 1)[0] if not host.endswith("]") else host
    path = unquote(raw_path)
    if _is_virtual_host(hostname):
        bucket = hostname[: -len(VIRTUAL_HOST_SUFFIX)]
        return Target(bucket, path[1:] if path.startswith("/") else path)
    bucket, _, key = path.lstrip("/").partition("/")
    return Target(bucket, key)


def _is_virtual_host(hostname: str) -> bool:
    if not hostname.endswith(VIRTUAL_HOST_SUFFIX) or hostname == VIRTUAL_HOST_SUFFIX[1:]:
        return False
    try:
        ipaddress.ip_address(hostname)
    except ValueError:
        return True
    return False


def is_bucket_name(name: str) -> bool:
    return _bucket_problem(name) is None


def _bucket_problem(name: str) -> str | None:
    if not 3 <= len(name) <= 63:
        return f"is {len(name)} characters long; bucket names have 3 to 63"
    if not _BUCKET.match(name):
        return (
            "has characters S3 does not allow; use lower-case letters, digits, '.' and '-', "
            "starting and ending with a letter or digit"
        )
    if ".." in name:
        return "has two adjacent periods"
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return None
    return "is formatted as an IP address"


def check_bucket_name(name: str) -> str:
    problem = _bucket_problem(name)
    if problem is not None:
        raise S3Error.invalid_bucket_name(name, problem)
    return name


def check_key(key: str) -> str:
    """``key`` if the store can hold it under that exact name; otherwise an S3 error saying why."""
    if not key:
        raise S3Error.invalid_argument("an object key may not be empty", "Key", key)
    if len(key.encode("utf-8", "surrogatepass")) > MAX_KEY_BYTES:
        raise S3Error(
            "KeyTooLongError", f"Your key is too long: {len(key)} characters; S3 allows 1024 bytes.", 400
        )
    segments = key.split("/")
    if key.endswith("/"):
        segments = segments[:-1]  # a "folder/" marker
    for segment in segments:
        if segment in ("", ".", ".."):
            raise S3Error.invalid_argument(
                f"object key {key!r} has an empty, '.' or '..' path segment, which Kiln's artifact "
                "store cannot hold as a name; remove the repeated or relative '/' parts",
                "Key",
                key,
            )
        if segment.startswith(TEMP_PREFIX):
            raise S3Error.invalid_argument(
                f"object key {key!r} has a segment starting with {TEMP_PREFIX!r}, which the store "
                "reserves for half-written objects; rename it",
                "Key",
                key,
            )
        if "\x00" in segment:
            raise S3Error.invalid_argument(f"object key {key!r} contains a NUL character", "Key", key)
    return key
