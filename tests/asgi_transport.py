"""A synchronous httpx transport that drives an ASGI app in-process (for the SDK's in-process tests)."""

from __future__ import annotations

from typing import Any

import anyio.from_thread
import httpx


class SyncASGITransport(httpx.BaseTransport):
    def __init__(self, app: Any) -> None:
        self._asgi = httpx.ASGITransport(app=app)
        self._portal_context = anyio.from_thread.start_blocking_portal()
        self._portal = self._portal_context.__enter__()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        body = request.read()
        async_request = httpx.Request(request.method, request.url, headers=request.headers, content=body)

        async def call() -> tuple[int, list[tuple[bytes, bytes]], bytes]:
            response = await self._asgi.handle_async_request(async_request)
            content = b"".join([chunk async for chunk in response.stream])  # type: ignore[union-attr]
            return response.status_code, response.headers.raw, content

        status, headers, content = self._portal.call(call)
        return httpx.Response(status, headers=headers, content=content, request=request)

    def close(self) -> None:
        self._portal_context.__exit__(None, None, None)
