"""A request body as S3 receives it: de-framed, hashed and verified while it streams.

botocore sends bodies three ways: plain (``x-amz-content-sha256`` is the hex SHA-256 of the body,
over http), ``UNSIGNED-PAYLOAD``, or ``aws-chunked`` (``Content-Encoding: aws-chunked``,
``x-amz-content-sha256: STREAMING-…``; over https botocore frames the body in chunks and sends its
checksum as a trailer). Whatever the framing, the bytes that reach the store are the decoded object,
and every digest the client declared (the payload hash, ``Content-MD5``, ``x-amz-checksum-*``, the
decoded length) is checked when the last byte has arrived. A mismatch raises inside the store's
atomic write, so a corrupt object never becomes visible.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import AsyncIterator

from starlette.datastructures import Headers

from kiln.server.wire.s3.checksums import CHECKSUM_ALGORITHMS, Checksum, b64, new_checksum
from kiln.server.wire.s3.errors import S3Error

__all__ = ["RequestBody"]

MAX_CHUNK_HEADER_BYTES = 4096  # "<hex size>;chunk-signature=<64 hex>\r\n" is far shorter
_HEX_SHA256 = re.compile(r"^[0-9a-f]{64}$")


class RequestBody:
    """One request's body; iterate ``chunks()`` once, then read ``size``, ``md5`` and ``checksum``."""

    def __init__(self, stream: AsyncIterator[bytes], headers: Headers) -> None:
        self._stream = stream
        declared_hash = headers.get("x-amz-content-sha256", "")
        encodings = [e.strip().lower() for e in headers.get("content-encoding", "").split(",")]
        self.aws_chunked = "aws-chunked" in encodings or declared_hash.startswith("STREAMING-")
        self.content_encoding = ",".join(e for e in encodings if e and e != "aws-chunked") or None
        self._payload_sha256 = declared_hash if _HEX_SHA256.match(declared_hash) else None
        self._decoded_length = _int_header(headers, "x-amz-decoded-content-length")
        self._content_md5 = _b64_header(headers, "content-md5")
        self._algorithm, self._expected_checksum = _declared_checksum(headers)
        self._checksum: Checksum | None = new_checksum(self._algorithm) if self._algorithm else None
        self._md5 = hashlib.md5()
        self._sha256 = hashlib.sha256() if self._payload_sha256 else None
        self._trailers: dict[str, str] = {}
        self.size = 0
        self.md5 = b""
        self.checksum: tuple[str, str] | None = None  # (algorithm, base64 value), verified

    async def chunks(self) -> AsyncIterator[bytes]:
        source = self._dechunked() if self.aws_chunked else self._plain()
        async for data in source:
            self.size += len(data)
            self._md5.update(data)
            if self._checksum is not None:
                self._checksum.update(data)
            yield data
        self._finish()

    async def read_all(self, limit: int) -> bytes:
        """The whole (small) body, verified; EntityTooLarge past ``limit`` bytes."""
        parts: list[bytes] = []
        async for data in self.chunks():
            parts.append(data)
            if self.size > limit:
                raise S3Error(
                    "EntityTooLarge",
                    f"Your proposed upload exceeds the maximum allowed size: {limit} bytes.",
                    400,
                )
        return b"".join(parts)

    async def _plain(self) -> AsyncIterator[bytes]:
        async for data in self._stream:
            if data:
                if self._sha256 is not None:
                    self._sha256.update(data)
                yield data

    async def _dechunked(self) -> AsyncIterator[bytes]:
        """aws-chunked: ``<hex size>[;chunk-signature=…]CRLF<bytes>CRLF`` … ``0CRLF<trailers>CRLF``."""
        buffer = bytearray()
        source = self._stream.__aiter__()

        async def more() -> None:
            try:
                buffer.extend(await source.__anext__())
            except StopAsyncIteration:
                raise _incomplete("the aws-chunked body ended inside a chunk") from None

        async def line() -> bytes:
            while (end := buffer.find(b"\r\n")) < 0:
                if len(buffer) > MAX_CHUNK_HEADER_BYTES:
                    raise _malformed_chunk("a chunk header line is too long")
                await more()
            text = bytes(buffer[:end])
            del buffer[: end + 2]
            return text

        while True:
            header = await line()
            try:
                size = int(header.split(b";", 1)[0].strip(), 16)
            except ValueError:
                raise _malformed_chunk(f"bad chunk header {header[:80]!r}") from None
            if size == 0:
                break
            remaining = size
            while remaining:
                if not buffer:
                    await more()
                take = min(remaining, len(buffer))
                data = bytes(buffer[:take])
                del buffer[:take]
                remaining -= take
                yield data
            while len(buffer) < 2:
                await more()
            if buffer[:2] != b"\r\n":
                raise _malformed_chunk("a chunk's data is not followed by CRLF")
            del buffer[:2]
        while True:  # trailers, up to the blank line that ends the body
            try:
                trailer = await line()
            except S3Error:
                break  # some clients end the body right after the last trailer's CRLF
            if not trailer:
                break
            name, _, value = trailer.decode("latin-1").partition(":")
            self._trailers[name.strip().lower()] = value.strip()

    def _finish(self) -> None:
        self.md5 = self._md5.digest()
        if self._decoded_length is not None and self._decoded_length != self.size:
            raise _incomplete(
                f"x-amz-decoded-content-length says {self._decoded_length} bytes, "
                f"the body decoded to {self.size}"
            )
        if self._sha256 is not None and self._sha256.hexdigest() != self._payload_sha256:
            raise S3Error(
                "XAmzContentSHA256Mismatch",
                "The provided 'x-amz-content-sha256' header does not match what was computed: "
                f"{self._payload_sha256} was sent, {self._sha256.hexdigest()} was received.",
                400,
                ClientComputedContentSHA256=str(self._payload_sha256),
                S3ComputedContentSHA256=self._sha256.hexdigest(),
            )
        if self._content_md5 is not None and self._content_md5 != self.md5:
            raise S3Error("BadDigest", "The Content-MD5 you specified did not match what we received.", 400)
        if self._checksum is not None and self._algorithm is not None:
            expected = self._expected_checksum or self._trailers.get(
                f"x-amz-checksum-{self._algorithm.lower()}"
            )
            actual = b64(self._checksum.digest())
            if expected is not None and expected != actual:
                raise S3Error(
                    "BadDigest",
                    f"The {self._algorithm} you specified did not match the calculated checksum: "
                    f"{expected} was sent, {actual} was received.",
                    400,
                )
            self.checksum = (self._algorithm, actual)


def _declared_checksum(headers: Headers) -> tuple[str | None, str | None]:
    """The checksum algorithm the client declared, and its value when sent as a header."""
    for algorithm in CHECKSUM_ALGORITHMS:
        value = headers.get(f"x-amz-checksum-{algorithm.lower()}")
        if value is not None:
            _check_b64(f"x-amz-checksum-{algorithm.lower()}", value)
            return algorithm, value
    trailer = headers.get("x-amz-trailer", "").strip().lower()
    if trailer.startswith("x-amz-checksum-"):
        return trailer[len("x-amz-checksum-") :].upper(), None
    return None, None


def _check_b64(name: str, value: str) -> None:
    try:
        base64.b64decode(value, validate=True)
    except binascii.Error:
        raise S3Error.invalid_request(
            f"Value for {name} header is invalid: {value!r} is not base64."
        ) from None


def _b64_header(headers: Headers, name: str) -> bytes | None:
    value = headers.get(name)
    if value is None:
        return None
    try:
        return base64.b64decode(value, validate=True)
    except binascii.Error:
        raise S3Error("InvalidDigest", f"The {name} you specified is not valid: {value!r}.", 400) from None


def _int_header(headers: Headers, name: str) -> int | None:
    value = headers.get(name)
    if value is None:
        return None
    if not value.isdigit():
        raise S3Error.invalid_argument(f"header {name} must be a byte count, got {value!r}", name, value)
    return int(value)


def _incomplete(why: str) -> S3Error:
    return S3Error("IncompleteBody", f"You did not provide the number of bytes specified: {why}.", 400)


def _malformed_chunk(why: str) -> S3Error:
    return S3Error.invalid_request(f"the aws-chunked request body is malformed: {why}")
