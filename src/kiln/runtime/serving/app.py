"""The endpoint instance's HTTP face: a plain ASGI callable for ``/ping``, ``/invocations``, ``/stats``.

No framework routing and no request models: with a small model, per-request Python work outside the
model decides throughput (a minimal FastAPI app spends ~0.8 CPU-ms per request), so each request
costs one pass over its headers, one body read, the decode, and two ``send`` calls.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from kiln.asgi_body import read_body
from kiln.runtime.serving.batching import Batcher
from kiln.runtime.serving.handlers import HandlerChain
from kiln.runtime.serving.invocation import Invocation, Reply, error_reply, reply_for_exception
from kiln.runtime.serving.settings import ServingSettings

__all__ = ["InferenceApp"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

DEFAULT_CONTENT_TYPE = "application/json"  # what SageMaker's SDK sends when nobody chose a serializer
_PING_BODY = b'{"status":"Healthy"}'
# A body this many times the limit is not read to the end before answering 413: the connection
# is closed instead, so a runaway client cannot keep the instance reading.
_DRAIN_FACTOR = 4
_ROUTES = "this endpoint instance answers GET /ping, POST /invocations and GET /stats"


class InferenceApp:
    """The ASGI application; the model and its queue live in ``batcher``."""

    def __init__(self, chain: HandlerChain, batcher: Batcher, settings: ServingSettings) -> None:
        self._chain = chain
        self._batcher = batcher
        self._limit = settings.max_payload_bytes
        self._default_accept = settings.default_accept
        self._model_dir = str(chain.model_dir)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            path, method = scope["path"], scope["method"]
            if path == "/invocations":
                if method == "POST":
                    await self._invocations(scope, receive, send)
                else:
                    await _send(send, error_reply(405, f"Use POST /invocations, not {method}; {_ROUTES}."))
            elif path == "/ping" and method in ("GET", "HEAD"):
                await _send(send, Reply(200, _PING_BODY))  # the model loads before the server listens
            elif path == "/stats" and method == "GET":
                await _send(send, Reply(200, json.dumps(self.stats()).encode("utf-8")))
            else:
                await _send(send, error_reply(404, f"No route {method} {path}; {_ROUTES}."))
        elif scope["type"] == "lifespan":
            await _lifespan(receive, send)

    def stats(self) -> dict[str, Any]:
        return {**self._batcher.stats(), "handlers": self._chain.describe()}

    async def _invocations(self, scope: Scope, receive: Receive, send: Send) -> None:
        content_type = accept = attributes = None
        declared_length = -1
        headers: list[tuple[bytes, bytes]] = scope["headers"]
        for name, value in headers:
            if name == b"content-type":
                content_type = value.decode("latin-1")
            elif name == b"accept":
                accept = value.decode("latin-1")
            elif name == b"x-amzn-sagemaker-custom-attributes":
                attributes = value.decode("latin-1")
            elif name == b"content-length":
                declared_length = int(value) if value.isdigit() else -1
        if declared_length > self._limit:
            await self._too_large(receive, send, declared_length)
            return
        received = await read_body(receive, self._limit, _DRAIN_FACTOR * self._limit)
        if received is None:
            return  # the client went away
        body, size, complete = received
        if size > self._limit:
            await _send(send, self._too_large_reply(size), close=not complete)
            return
        if not accept or accept.strip() == "*/*":
            accept = self._default_accept  # SageMaker's SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT rule
        inv = Invocation(
            body, content_type or DEFAULT_CONTENT_TYPE, accept, attributes, headers, self._model_dir
        )
        try:
            self._chain.prepare(inv)
        except Exception as e:  # KilnErrors keep their status (400, 415); anything else is a 500
            await _send(send, reply_for_exception(e, "decoding the request"))
            return
        await _send(send, await self._batcher.submit(inv))

    async def _too_large(self, receive: Receive, send: Send, size: int) -> None:
        """Answer 413 to a request whose Content-Length is over the limit."""
        if size <= _DRAIN_FACTOR * self._limit:
            # Read the body first so the client, still sending, sees the answer instead of a reset.
            await read_body(receive, 0, size)
            await _send(send, self._too_large_reply(size))
        else:
            await _send(send, self._too_large_reply(size), close=True)

    def _too_large_reply(self, size: int) -> Reply:
        return error_reply(
            413,
            f"The request body is {size:,} bytes, over this endpoint's limit of {self._limit:,} bytes "
            "(SAGEMAKER_MAX_PAYLOAD_IN_MB). Send fewer records per request, or use a batch transform "
            "job for large inputs.",
        )


async def _send(send: Send, reply: Reply, close: bool = False) -> None:
    headers = [
        (b"content-type", reply.content_type.encode("latin-1")),
        (b"content-length", str(len(reply.body)).encode("ascii")),
    ]
    if close:
        headers.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": reply.status, "headers": headers})
    await send({"type": "http.response.body", "body": reply.body})


async def _lifespan(receive: Receive, send: Send) -> None:
    # The model loads before the server starts, so there is nothing to do but acknowledge.
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return
