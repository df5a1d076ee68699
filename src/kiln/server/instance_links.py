"""The server's connections to endpoint instances: one multiplexed Unix-socket link per instance."""

from __future__ import annotations

import asyncio
import itertools

from kiln.runtime.serving.wire import encode_request, read_response

__all__ = ["InstanceGone", "InstanceLink", "InstanceUnreachable"]

CONNECT_TIMEOUT_SECONDS = 5.0
STREAM_LIMIT_BYTES = 64 << 20  # answers may be larger than requests (e.g. probabilities for a batch)


class InstanceGone(Exception):
    """The instance's connection failed or closed while requests were waiting on it."""


class InstanceUnreachable(InstanceGone):
    """The instance could not be reached: the request was never sent, so another instance may take it."""


class InstanceLink:
    def __init__(self, instance_id: str, socket_path: str) -> None:
        self.instance_id = instance_id
        self.socket_path = socket_path
        self.in_flight = 0
        self._ids = itertools.count(1)
        self._waiting: dict[int, asyncio.Future[tuple[int, str, bytes]]] = {}
        self._writer: asyncio.StreamWriter | None = None
        self._connecting: asyncio.Lock | None = None
        self._reader_task: asyncio.Task[None] | None = None

    async def _connect(self) -> asyncio.StreamWriter:
        if self._connecting is None:
            self._connecting = asyncio.Lock()
        async with self._connecting:
            if self._writer is not None and not self._writer.is_closing():
                return self._writer
            try:
                reader, writer = await asyncio.wait_for(
                    asyncio.open_unix_connection(self.socket_path, limit=STREAM_LIMIT_BYTES),
                    CONNECT_TIMEOUT_SECONDS,
                )
            except (OSError, asyncio.TimeoutError) as e:
                raise InstanceUnreachable(f"cannot reach instance {self.instance_id}: {e}") from e
            self._writer = writer
            self._reader_task = asyncio.create_task(self._read_answers(reader))
            return writer

    async def _read_answers(self, reader: asyncio.StreamReader) -> None:
        while (response := await read_response(reader)) is not None:
            request_id, status, content_type, body = response
            future = self._waiting.pop(request_id, None)
            if future is not None and not future.done():
                future.set_result((status, content_type, body))
        self._fail_waiting(f"instance {self.instance_id} closed its connection")

    def _fail_waiting(self, reason: str) -> None:
        waiting, self._waiting = self._waiting, {}
        for future in waiting.values():
            if not future.done():
                future.set_exception(InstanceGone(reason))
        if self._writer is not None:
            self._writer.close()
            self._writer = None

    async def invoke(
        self, content_type: str, accept: str, attributes: str, body: bytes
    ) -> tuple[int, str, bytes]:
        """(status, content type, body) of the instance's answer."""
        self.in_flight += 1
        try:
            writer = self._writer
            if writer is None or writer.is_closing():
                writer = await self._connect()
            request_id = next(self._ids)
            future: asyncio.Future[tuple[int, str, bytes]] = asyncio.get_running_loop().create_future()
            self._waiting[request_id] = future
            writer.write(encode_request(request_id, content_type, accept, attributes, body))
            return await future
        finally:
            self.in_flight -= 1

    def close(self) -> None:
        self._fail_waiting(f"instance {self.instance_id} was taken out of service")
        if self._reader_task is not None:
            self._reader_task.cancel()
