"""The instance's side of the server's private channel: invocations framed over a Unix socket, or
over TCP behind a secret when the instance runs on another node than the server.

Requests arriving here take the same path as ``POST /invocations`` (handler chain, batcher), so the
HTTP face and this channel answer identically; only the transport differs.

The channel is an ``asyncio.Protocol`` rather than a stream reader with a task per request: with a
small model the per-request cost outside the model decides throughput, and a protocol cuts every
frame a read delivers in one pass, hands each request to the batcher with a callback (no task, no
future), and writes all the answers a batch produced in one ``write``.
"""

from __future__ import annotations

import asyncio
import functools
import hmac
import os
import socket
from pathlib import Path
from typing import cast

from kiln.errors import KilnError
from kiln.runtime.serving.batching import Batcher
from kiln.runtime.serving.handlers import HandlerChain
from kiln.runtime.serving.invocation import Invocation, Reply, error_reply
from kiln.runtime.serving.ipc import HELLO_ACCEPTED, RequestSplitter, encode_response, parse_hello
from kiln.runtime.serving.settings import ServingSettings

__all__ = ["serve_ipc", "serve_ipc_tcp"]

DEFAULT_CONTENT_TYPE = "application/json"
HELLO_TIMEOUT_SECONDS = 10.0  # a TCP connection that has not said the secret by then is closed


class _Channel(asyncio.Protocol):
    """One connection from the server: many requests in flight, answered in any order by id."""

    def __init__(
        self,
        chain: HandlerChain,
        batcher: Batcher,
        settings: ServingSettings,
        model_dir: str,
        secret: bytes | None = None,
    ):
        self._chain = chain
        self._batcher = batcher
        self._default_accept = settings.default_accept
        self._model_dir = model_dir
        self._splitter = RequestSplitter()
        self._transport: asyncio.Transport | None = None
        self._loop = asyncio.get_running_loop()
        self._answers: list[bytes] = []  # encoded answers waiting for the next flush
        self._queued = 0  # requests handed to the batcher and not answered yet
        self._eof = False  # the server closed its side: answer what is queued, then close
        self._secret = secret  # what the hello must carry (TCP); None: no hello (Unix socket)
        self._hello: bytearray | None = None if secret is None else bytearray()  # until it is checked

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # A cast, not an isinstance check: uvloop's transports do not subclass asyncio.Transport.
        self._transport = cast(asyncio.Transport, transport)
        if self._hello is not None:
            self._loop.call_later(HELLO_TIMEOUT_SECONDS, self._hello_overdue)

    def _hello_overdue(self) -> None:
        if self._hello is not None and self._transport is not None:
            self._transport.close()

    def _check_hello(self, data: bytes) -> bytes:
        """What follows a right hello (requests sent right behind it); b"" while the hello is partial.
        A wrong hello closes the connection: nothing from it reaches the model."""
        # Called only on a TCP channel whose hello is still pending.
        assert self._hello is not None
        assert self._secret is not None
        assert self._transport is not None
        self._hello += data
        try:
            hello = parse_hello(self._hello)
        except ValueError:
            hello = (b"", -1)
        if hello is None:
            return b""
        secret, end = hello
        # Compared in constant time: how long a refusal takes says nothing about the secret.
        if end < 0 or not hmac.compare_digest(secret, self._secret):
            self._hello = None
            self._transport.close()
            self._transport = None  # nothing more is read from or written to it
            return b""
        rest = bytes(self._hello[end:])
        self._hello = None
        self._transport.write(HELLO_ACCEPTED)
        return rest

    def data_received(self, data: bytes) -> None:
        if self._hello is not None:
            data = self._check_hello(data)
            if not data:
                return
        elif self._transport is None:
            return  # refused: closing
        for request_id, ct, accept, attrs, body in self._splitter.feed(data):
            try:
                self._submit(request_id, ct, accept, attrs, body)
            except KilnError as e:
                self._answer(request_id, error_reply(e.http_status, e.message))
            except Exception as e:  # the boundary: one request's failure never ends the channel
                self._answer(request_id, error_reply(500, f"{type(e).__name__}: {e}"))

    def _submit(self, request_id: int, ct: str, accept: str, attrs: str, body: bytes) -> None:
        if not accept or accept.strip() == "*/*":
            accept = self._default_accept
        inv = Invocation(body, ct or DEFAULT_CONTENT_TYPE, accept, attrs or None, [], self._model_dir)
        self._chain.prepare(inv)  # a bad request is answered now, without queueing for the model
        self._queued += 1
        self._batcher.submit_with_callback(inv, functools.partial(self._answered, request_id))

    def _answered(self, request_id: int, reply: Reply) -> None:
        self._queued -= 1
        self._answer(request_id, reply)

    def _answer(self, request_id: int, reply: Reply) -> None:
        if self._transport is None:
            return  # the connection is gone: nobody waits for this answer
        self._answers.append(encode_response(request_id, reply.status, reply.content_type, reply.body))
        if len(self._answers) == 1:
            # Answers delivered together (a batch) leave in one write after they are all encoded.
            self._loop.call_soon(self._flush)

    def _flush(self) -> None:
        answers, self._answers = self._answers, []
        transport = self._transport
        if transport is None:
            return
        if answers and not transport.is_closing():
            transport.write(answers[0] if len(answers) == 1 else b"".join(answers))
        if self._eof and self._queued == 0:
            transport.close()

    def eof_received(self) -> bool:
        self._eof = True
        # True keeps the transport open for the answers still to come; False lets it close.
        return self._queued > 0 or bool(self._answers)

    def connection_lost(self, exc: Exception | None) -> None:
        self._transport = None


async def serve_ipc(
    path: Path, chain: HandlerChain, batcher: Batcher, settings: ServingSettings, model_dir: str
) -> asyncio.Server:
    path.unlink(missing_ok=True)
    loop = asyncio.get_running_loop()
    server = await loop.create_unix_server(
        lambda: _Channel(chain, batcher, settings, model_dir), path=str(path)
    )
    os.chmod(path, 0o600)  # only this user (the server) may invoke the model directly
    return server


async def serve_ipc_tcp(
    sock: socket.socket,
    secret: bytes,
    chain: HandlerChain,
    batcher: Batcher,
    settings: ServingSettings,
    model_dir: str,
) -> asyncio.Server:
    """The channel on a listening TCP socket: a connection serves once its hello carries ``secret``."""
    if not secret:
        raise ValueError("a TCP channel needs a secret: without one anyone on the network could invoke")
    loop = asyncio.get_running_loop()
    return await loop.create_server(lambda: _Channel(chain, batcher, settings, model_dir, secret), sock=sock)
