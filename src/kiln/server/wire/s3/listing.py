"""One page of a bucket listing: S3's ordering, delimiter grouping, markers and continuation tokens.

Both ListObjects (v1: ``marker``) and ListObjectsV2 (``start-after``, ``continuation-token``) page
the same way: keys after the marker, in UTF-8 byte order; with a delimiter, every key that has the
delimiter after the prefix collapses into one CommonPrefix, counted once against ``max-keys``.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from dataclasses import dataclass

from kiln.server.wire.s3.errors import S3Error
from kiln.server.wire.s3.objects import StoredEntry

__all__ = ["MAX_KEYS", "ListingPage", "decode_token", "encode_token", "list_page", "parse_max_keys"]

MAX_KEYS = 1000  # S3 never returns more per page, whatever max-keys asks


@dataclass(frozen=True)
class ListingPage:
    entries: list[StoredEntry]
    common_prefixes: list[str]
    truncated: bool
    last: str  # the last key or common prefix on the page: where the next page starts after


def list_page(
    entries: Sequence[StoredEntry], prefix: str, delimiter: str, after: str, max_keys: int
) -> ListingPage:
    after_bytes = after.encode("utf-8", "surrogatepass")
    contents: list[StoredEntry] = []
    prefixes: list[str] = []
    last = ""
    truncated = False
    for entry in entries:
        if after and entry.key.encode("utf-8", "surrogatepass") <= after_bytes:
            continue
        common = _common_prefix(entry.key, prefix, delimiter)
        if common is not None and (common == after or after.startswith(common) or common in prefixes[-1:]):
            continue  # this group was returned already, on this page or an earlier one
        if len(contents) + len(prefixes) >= max_keys:
            truncated = True
            break
        if common is not None:
            prefixes.append(common)
            last = common
        else:
            contents.append(entry)
            last = entry.key
    return ListingPage(contents, prefixes, truncated, last)


def _common_prefix(key: str, prefix: str, delimiter: str) -> str | None:
    if not delimiter:
        return None
    at = key.find(delimiter, len(prefix))
    return None if at < 0 else key[: at + len(delimiter)]


def encode_token(last: str) -> str:
    return base64.urlsafe_b64encode(last.encode("utf-8", "surrogatepass")).decode("ascii")


def decode_token(token: str) -> str:
    try:
        return base64.urlsafe_b64decode(token.encode("ascii")).decode("utf-8", "surrogatepass")
    except (binascii.Error, UnicodeError, ValueError):
        raise S3Error.invalid_argument(
            "The continuation token provided is incorrect; pass back NextContinuationToken unchanged",
            "continuation-token",
            token,
        ) from None


def parse_max_keys(raw: str | None, name: str = "max-keys") -> int:
    if raw is None:
        return MAX_KEYS
    if not raw.isdigit():
        raise S3Error.invalid_argument(f"Provided {name} not an integer or within integer range", name, raw)
    return min(int(raw), MAX_KEYS)
