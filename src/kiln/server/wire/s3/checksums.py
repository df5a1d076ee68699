"""The flexible checksums S3 clients send (``x-amz-checksum-<algorithm>``), computed while streaming.

botocore 1.36+ sends CRC32 with every PutObject and UploadPart by default; SHA-1, SHA-256, SHA-512
and MD5 come from hashlib. CRC32C and CRC64NVME need the AWS CRT (``awscrt``, what botocore itself
uses for them); without it those two are refused with a message rather than stored unchecked.
"""

from __future__ import annotations

import base64
import hashlib
import importlib
import zlib
from collections.abc import Callable
from typing import Any, Protocol

from kiln.server.wire.s3.errors import S3Error

__all__ = ["CHECKSUM_ALGORITHMS", "Checksum", "b64", "new_checksum"]


class Checksum(Protocol):
    def update(self, data: bytes, /) -> None: ...

    def digest(self) -> bytes: ...


class _Crc:
    """A running CRC whose state is an int (zlib's CRC32, the CRT's CRC32C and CRC64NVME)."""

    def __init__(self, step: Callable[[bytes, int], int], width_bytes: int) -> None:
        self._step = step
        self._width = width_bytes
        self._value = 0

    def update(self, data: bytes, /) -> None:
        self._value = self._step(data, self._value)

    def digest(self) -> bytes:
        return self._value.to_bytes(self._width, "big")  # S3 sends CRCs big-endian, then base64


def _crt(function: str) -> Callable[[bytes, int], int]:
    try:
        checksums: Any = importlib.import_module("awscrt.checksums")
    except ImportError as e:
        raise S3Error.invalid_request(
            f"this server cannot check {function.upper()} checksums (the awscrt package is not "
            "installed); send CRC32, SHA1 or SHA256, or set AWS_REQUEST_CHECKSUM_CALCULATION=when_required"
        ) from e
    step: Callable[[bytes, int], int] = getattr(checksums, function)
    return step


_FACTORIES: dict[str, Callable[[], Checksum]] = {
    "CRC32": lambda: _Crc(zlib.crc32, 4),
    "CRC32C": lambda: _Crc(_crt("crc32c"), 4),
    "CRC64NVME": lambda: _Crc(_crt("crc64nvme"), 8),
    "SHA1": hashlib.sha1,
    "SHA256": hashlib.sha256,
    "SHA512": hashlib.sha512,
    "MD5": hashlib.md5,
}
CHECKSUM_ALGORITHMS = tuple(_FACTORIES)


def new_checksum(algorithm: str) -> Checksum:
    """A fresh running checksum for ``algorithm`` (S3's upper-case name); InvalidRequest if unknown."""
    factory = _FACTORIES.get(algorithm.upper())
    if factory is None:
        raise S3Error.invalid_request(
            f"checksum algorithm {algorithm!r} is not supported; use one of {', '.join(CHECKSUM_ALGORITHMS)}"
        )
    return factory()


def b64(digest: bytes) -> str:
    return base64.b64encode(digest).decode("ascii")
