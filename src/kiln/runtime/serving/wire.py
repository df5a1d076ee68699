"""The frames the Kiln server and an endpoint instance exchange over the instance's Unix socket.

The server's runtime router forwards every invocation over one persistent, multiplexed connection
per instance: no HTTP parsing on either side of the hop, no connection set-up per request, and many
requests in flight at once so the instance can batch them. A request frame carries an id, the body
and three header values; a response frame the same id, a status, a content type and the body.
"""

from __future__ import annotations

import asyncio
import struct

__all__ = ["Request", "Response", "encode_request", "encode_response", "read_request", "read_response"]

_REQUEST = struct.Struct("!IIHHH")  # id, body length, content-type / accept / custom-attributes lengths
_RESPONSE = struct.Struct("!IIHH")  # id, body length, status, content-type length

Request = tuple[int, str, str, str, bytes]  # id, content type, accept, custom attributes, body
Response = tuple[int, int, str, bytes]  # id, status, content type, body


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
