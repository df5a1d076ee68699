"""The instance's side of the server's private channel: invocations framed over a Unix socket.

Requests arriving here take the same path as ``POST /invocations`` (handler chain, batcher), so the
HTTP face and this channel answer identically; only the transport differs.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from kiln.errors import KilnError
from kiln.runtime.serving.batching import Batcher
from kiln.runtime.serving.handlers import HandlerChain
from kiln.runtime.serving.invocation import Invocation, error_reply
from kiln.runtime.serving.settings import ServingSettings
from kiln.runtime.serving.wire import encode_response, read_request

__all__ = ["serve_ipc"]

DEFAULT_CONTENT_TYPE = "application/json"


async def serve_ipc(
    path: Path, chain: HandlerChain, batcher: Batcher, settings: ServingSettings, model_dir: str
) -> asyncio.Server:
    async def answer(
        request_id: int, ct: str, accept: str, attrs: str, body: bytes, writer: asyncio.StreamWriter
    ) -> None:
        if not accept or accept.strip() == "*/*":
            accept = settings.default_accept
        inv = Invocation(body, ct or DEFAULT_CONTENT_TYPE, accept, attrs or None, [], model_dir)
        try:
            chain.prepare(inv)
            reply = await batcher.submit(inv)
        except KilnError as e:
            reply = error_reply(e.http_status, e.message)
        except Exception as e:  # the boundary: one request's failure never ends the channel
            reply = error_reply(500, f"{type(e).__name__}: {e}")
        if not writer.is_closing():
            writer.write(encode_response(request_id, reply.status, reply.content_type, reply.body))

    async def connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        pending: set[asyncio.Task[None]] = set()
        while (request := await read_request(reader)) is not None:
            # Each request is its own task: many in flight at once is what lets the batcher batch.
            task = asyncio.create_task(answer(*request, writer))
            pending.add(task)
            task.add_done_callback(pending.discard)
        if pending:
            await asyncio.wait(pending)
        writer.close()

    path.unlink(missing_ok=True)
    server = await asyncio.start_unix_server(
        connection, path=str(path), limit=settings.max_payload_bytes + 65536
    )
    os.chmod(path, 0o600)  # only this user (the server) may invoke the model directly
    return server
