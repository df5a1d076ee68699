"""The frames the Kiln server and an endpoint instance exchange over the instance's private link.

The server's runtime router forwards every invocation over one persistent, multiplexed connection
per instance: no HTTP parsing on either side of the hop, no connection set-up per request, and many
requests in flight at once so the instance can batch them. A request frame carries an id, the body
and three header values; a response frame the same id, a status, a content type and the body.

The link is a Unix socket (0600) when the instance runs on the server's machine, or TCP when it runs
on another node of a cluster. Anyone on the network can reach a TCP port, so there the server's first
frame is a hello carrying the instance's secret; the instance answers ``HELLO_ACCEPTED`` and serves,
or closes the connection without a word.
"""

from __future__ import annotations

import abc
import asyncio
import struct

__all__ = [
    "HELLO_ACCEPTED",
    "HELLO_MAGIC",
    "HELLO_SIZE",
    "MAX_SECRET_BYTES",
    "Request",
    "RequestSplitter",
    "Response",
    "ResponseSplitter",
    "encode_hello",
    "encode_request",
    "encode_response",
    "parse_hello",
    "read_request",
    "read_response",
]

_REQUEST = struct.Struct("!IIHHH")  # id, body length, content-type / accept / custom-attributes lengths
_RESPONSE = struct.Struct("!IIHH")  # id, body length, status, content-type length

_HELLO = struct.Struct("!8sH")  # magic, secret length; the secret follows
HELLO_MAGIC = b"KILNIPC1"
HELLO_SIZE = _HELLO.size
HELLO_ACCEPTED = b"KILNOK01"  # the instance's one-time answer to a hello with the right secret
MAX_SECRET_BYTES = 256  # a hello announcing more is not Kiln's: the connection is closed

Request = tuple[int, str, str, str, bytes]  # id, content type, accept, custom attributes, body
Response = tuple[int, int, str, bytes]  # id, status, content type, body


def encode_hello(secret: bytes) -> bytes:
    return _HELLO.pack(HELLO_MAGIC, len(secret)) + secret


def parse_hello(data: bytes | bytearray) -> tuple[bytes, int] | None:
    """(the secret, the hello's length) once ``data`` holds a whole hello; None while it is partial.
    ``ValueError`` when ``data`` does not start with a hello (wrong magic, or an oversized secret)."""
    if len(data) < _HELLO.size:
        return None
    magic, length = _HELLO.unpack_from(data)
    if magic != HELLO_MAGIC or length > MAX_SECRET_BYTES:
        raise ValueError("not a Kiln IPC hello")
    end = _HELLO.size + length
    return (bytes(data[_HELLO.size : end]), end) if len(data) >= end else None


def encode_request(request_id: int, content_type: str, accept: str, attributes: str, body: bytes) -> bytes:
    ct, ac, at = content_type.encode("latin-1"), accept.encode("latin-1"), attributes.encode("latin-1")
    return _REQUEST.pack(request_id, len(body), len(ct), len(ac), len(at)) + ct + ac + at + body


def encode_response(request_id: int, status: int, content_type: str, body: bytes) -> bytes:
    ct = content_type.encode("latin-1")
    return _RESPONSE.pack(request_id, len(body), status, len(ct)) + ct + body


async def read_request(reader: asyncio.StreamReader) -> Request | None:
    """The next request, or None when the peer closed the connection."""
    try:
        head = await reader.readexactly(_REQUEST.size)
        request_id, body_length, ct_length, ac_length, at_length = _REQUEST.unpack(head)
        rest = await reader.readexactly(ct_length + ac_length + at_length + body_length)
    except (asyncio.IncompleteReadError, ConnectionError):
        return None
    a, b, c = ct_length, ct_length + ac_length, ct_length + ac_length + at_length
    return (
        request_id,
        rest[:a].decode("latin-1"),
        rest[a:b].decode("latin-1"),
        rest[b:c].decode("latin-1"),
        rest[c:],
    )


async def read_response(reader: asyncio.StreamReader) -> Response | None:
    try:
        head = await reader.readexactly(_RESPONSE.size)
        request_id, body_length, status, ct_length = _RESPONSE.unpack(head)
        rest = await reader.readexactly(ct_length + body_length)
    except (asyncio.IncompleteReadError, ConnectionError):
        return None
    return request_id, status, rest[:ct_length].decode("latin-1"), rest[ct_length:]


class _Splitter(abc.ABC):
    """Cuts the frames out of a byte stream as it arrives, for an ``asyncio.Protocol``'s data_received.

    Both ends of the hop use protocols rather than ``StreamReader.readexactly``, which costs two
    awaits (and, on the instance, a task) per frame; here a chunk holding many frames is cut in one
    pass. A partial frame waits in a buffer until the rest of it arrives; bytes are copied a bounded
    number of times however the stream is chunked, so a large body arriving in pieces stays linear.
    """

    _head: struct.Struct

    def __init__(self) -> None:
        self._partial = bytearray()
        self._wanted = 0  # bytes the buffered frame needs in all (0: its head is not complete yet)

    @abc.abstractmethod
    def _frame_length(self, data: bytes, offset: int) -> int:
        """The whole length of the frame whose head starts at ``offset``."""

    def _frames(self, data: bytes) -> list[tuple[bytes, int]]:
        """``(chunk, offset)`` of each frame that ``data`` completes; an incomplete one is kept."""
        partial = self._partial
        if partial:
            partial += data
            if len(partial) < max(self._wanted, self._head.size):
                return []
            data = bytes(partial)
            partial.clear()
        head_size = self._head.size
        frames = []
        offset, size = 0, len(data)
        while size - offset >= head_size:
            end = offset + self._frame_length(data, offset)
            if end > size:
                self._wanted = end - offset
                break
            frames.append((data, offset))
            offset = end
        else:
            self._wanted = 0
        if offset < size:
            partial += data[offset:] if offset else data
        return frames


class RequestSplitter(_Splitter):
    """``feed(chunk)`` gives the requests that chunk completes."""

    _head = _REQUEST

    def _frame_length(self, data: bytes, offset: int) -> int:
        _, body, ct, ac, at = _REQUEST.unpack_from(data, offset)
        return int(_REQUEST.size + ct + ac + at + body)

    def feed(self, data: bytes) -> list[Request]:
        requests = []
        for chunk, offset in self._frames(data):
            request_id, body_length, ct, ac, at = _REQUEST.unpack_from(chunk, offset)
            a = offset + _REQUEST.size
            b, c, d = a + ct, a + ct + ac, a + ct + ac + at
            requests.append(
                (
                    request_id,
                    chunk[a:b].decode("latin-1"),
                    chunk[b:c].decode("latin-1"),
                    chunk[c:d].decode("latin-1"),
                    chunk[d : d + body_length],
                )
            )
        return requests


class ResponseSplitter(_Splitter):
    """``feed(chunk)`` gives the responses that chunk completes."""

    _head = _RESPONSE

    def _frame_length(self, data: bytes, offset: int) -> int:
        _, body, _, ct = _RESPONSE.unpack_from(data, offset)
        return int(_RESPONSE.size + ct + body)

    def feed(self, data: bytes) -> list[Response]:
        responses = []
        for chunk, offset in self._frames(data):
            request_id, body_length, status, ct = _RESPONSE.unpack_from(chunk, offset)
            a = offset + _RESPONSE.size
            b = a + ct
            responses.append((request_id, status, chunk[a:b].decode("latin-1"), chunk[b : b + body_length]))
        return responses
