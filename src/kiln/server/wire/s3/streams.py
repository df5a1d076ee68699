"""Blocking readers over async request bodies, for the store's writers on worker threads.

The store's writes block (fsspec), the request body arrives on the event loop. ``read_ahead``
runs a task that keeps pulling (and so hashing) the body while the worker thread writes what came
before, through a bounded queue: receiving, verifying and writing overlap, and memory stays bounded
by the queue. An error raised while the body streams (a checksum that does not match) reaches the
writer as its next read, so the store's atomic write discards the object.
"""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import IO, Any

import anyio
import anyio.from_thread
from anyio.streams.memory import MemoryObjectReceiveStream

__all__ = ["read_ahead"]

READ_AHEAD_CHUNKS = 64  # network-sized pieces (≤ 64 KiB each under uvicorn): a few MiB in flight


@asynccontextmanager
async def read_ahead(chunks: AsyncIterator[bytes]) -> AsyncIterator[IO[bytes]]:
    """A blocking binary reader of ``chunks``, filled ahead by a task on the event loop."""
    send, receive = anyio.create_memory_object_stream[bytes](READ_AHEAD_CHUNKS)
    failures: list[BaseException] = []

    async def pump() -> None:
        async with send:
            try:
                async for data in chunks:
                    await send.send(data)
            except Exception as e:  # handed to the reader: the write must fail with it
                failures.append(e)

    raised: Exception | None = None
    async with anyio.create_task_group() as group:
        group.start_soon(pump)
        try:
            yield io.BufferedReader(_ThreadReader(receive, failures))
        except Exception as e:  # raised below, as itself rather than inside the group's ExceptionGroup
            raised = e
        finally:
            group.cancel_scope.cancel()  # the writer stopped early: stop reading the body
            receive.close()
    if raised is not None:
        raise raised


class _ThreadReader(io.RawIOBase):
    def __init__(self, receive: MemoryObjectReceiveStream[bytes], failures: list[BaseException]) -> None:
        self._receive = receive
        self._failures = failures
        self._pending = b""
        self._done = False

    def readable(self) -> bool:
        return True

    def readinto(self, target: Any) -> int:
        view = memoryview(target).cast("B")
        if not self._pending and not self._done:
            self._pending = anyio.from_thread.run(self._gather, len(view))
            self._done = not self._pending
        taken = min(len(view), len(self._pending))
        view[:taken] = self._pending[:taken]
        self._pending = self._pending[taken:]
        return taken

    async def _gather(self, wanted: int) -> bytes:
        """At least one piece (waiting for it), then whatever else is queued, up to ``wanted``."""
        parts: list[bytes] = []
        size = 0
        try:
            parts.append(await self._receive.receive())
            size = len(parts[0])
            while size < wanted:
                parts.append(self._receive.receive_nowait())
                size += len(parts[-1])
        except anyio.WouldBlock:
            pass
        except anyio.EndOfStream:
            if self._failures:
                raise self._failures[0] from None
        return b"".join(parts)
