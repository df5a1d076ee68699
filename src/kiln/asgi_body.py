"""Reading an ASGI request body under a size limit: the one reader of the server's runtime router, its
AWS wire and the model server's instances, so all three answer an oversized body alike (413).

It sits below both the server and the runtime (it imports nothing of Kiln) and is on the serving
hot path: a body that arrives in one message, the common case, costs one ``await receive()`` and no
copy.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

__all__ = ["read_body"]

Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]


async def read_body(receive: Receive, keep: int, read: int | None = None) -> tuple[bytes, int, bool] | None:
    """``(body, size, complete)``: the body, keeping up to ``keep`` bytes and reading up to ``read``
    (all of it when None). None if the client went away.

    Past ``keep`` the body is read but not held in memory (``body`` is then empty and ``size`` says
    how much came: the caller answers 413); past ``read`` reading stops (``complete`` False), so an
    endless body cannot keep the server busy. A body in one message is returned whole, whatever its
    size, since it is in memory already.
    """
    message = await receive()
    if message["type"] != "http.request":
        return None
    body: bytes = message.get("body", b"")
    if not message.get("more_body", False):
        return body, len(body), True  # the common case: one message holds the whole body
    chunks = [body]
    size = len(body)
    while read is None or size <= read:
        message = await receive()
        if message["type"] != "http.request":
            return None
        chunk: bytes = message.get("body", b"")
        size += len(chunk)
        if size <= keep:
            chunks.append(chunk)
        else:
            chunks.clear()  # over the limit: stop holding memory, the caller answers 413
        if not message.get("more_body", False):
            return b"".join(chunks), size, True
    return b"", size, False
