"""The control plane's connections to model-server instances: one multiplexed link each.

The runtime router sends endpoints' invocations over them, a transform job its records. The address
decides the transport: a path is the Unix socket of an instance on the server's machine;
``tcp://host:port`` an instance on another node, which serves the link once its first frame, the
hello, carries the instance's secret (``kiln.runtime.serving.ipc``).

A link is an ``asyncio.Protocol``: the answers a read delivers are cut out in one pass and resolve
their requests' futures directly, with no reader task awaiting each frame. Requests made in the same
turn of the event loop (many clients' requests parsed from one poll) leave in one ``write``.
"""

from __future__ import annotations

import asyncio
import itertools
import socket

from kiln.runtime.serving.ipc import HELLO_ACCEPTED, ResponseSplitter, encode_hello, encode_request

__all__ = ["TCP_SCHEME", "InstanceGone", "InstanceLink", "InstanceUnreachable", "parse_tcp_address"]

CONNECT_TIMEOUT_SECONDS = 5.0  # also how long a TCP instance may take to accept the hello
TCP_SCHEME = "tcp://"
# Idle 10 s, then a probe every 5 s, given up after 3 unanswered: ~25 s to notice a silent peer.
KEEPALIVE_PROBES = (("TCP_KEEPIDLE", 10), ("TCP_KEEPINTVL", 5), ("TCP_KEEPCNT", 3))


def parse_tcp_address(address: str) -> tuple[str, int] | None:
    """(host, port) of a ``tcp://host:port`` address; None for a Unix socket path."""
    if not address.startswith(TCP_SCHEME):
        return None
    host, _, port = address[len(TCP_SCHEME) :].rpartition(":")
    if not host or not port.isdigit():
        raise ValueError(f"instance address {address!r} is not tcp://HOST:PORT")
    return host.strip("[]"), int(port)


def _keep_alive(sock: socket.socket | None) -> None:
    """Probe an idle link: a node that vanished without closing its connections (power, network) fails
    the requests waiting on it within about half a minute instead of TCP's quarter of an hour."""
    if sock is None:
        return
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
    for option, value in KEEPALIVE_PROBES:
        if hasattr(socket, option):  # Linux names; other systems keep their defaults
            sock.setsockopt(socket.IPPROTO_TCP, getattr(socket, option), value)


class InstanceGone(Exception):
    """The instance's connection failed or closed while requests were waiting on it."""


class InstanceUnreachable(InstanceGone):
    """The instance could not be reached: the request was never sent, so another instance may take it."""


class _Connection(asyncio.Protocol):
    """The link's current socket: feeds answers to the link, tells it when the socket closes."""

    def __init__(self, link: InstanceLink, accepted: asyncio.Future[None] | None = None) -> None:
        self._link = link
        self._splitter = ResponseSplitter()
        self._accepted = accepted  # resolved by the instance's answer to the hello (TCP only)
        self._answer = b""

    def data_received(self, data: bytes) -> None:
        accepted = self._accepted
        if accepted is not None and not accepted.done():
            self._answer += data
            if len(self._answer) < len(HELLO_ACCEPTED):
                return
            if self._answer[: len(HELLO_ACCEPTED)] != HELLO_ACCEPTED:
                accepted.set_exception(ConnectionError("the instance answered the hello with something else"))
                return
            accepted.set_result(None)
            data = self._answer[len(HELLO_ACCEPTED) :]
            if not data:
                return
        waiting = self._link._waiting
        for request_id, status, content_type, body in self._splitter.feed(data):
            future = waiting.pop(request_id, None)
            if future is not None and not future.done():
                future.set_result((status, content_type, body))

    def connection_lost(self, exc: Exception | None) -> None:
        accepted = self._accepted
        if accepted is not None and not accepted.done():
            # Closed without accepting: the instance refused the secret (or died meanwhile).
            accepted.set_exception(ConnectionError("the instance closed the connection at the hello"))
        self._link._lost(self)


class InstanceLink:
    """One instance's link; ``address`` is a Unix socket path or ``tcp://host:port``, where
    ``secret`` (the instance's) is required."""

    def __init__(self, instance_id: str, address: str, secret: bytes | None = None) -> None:
        self.instance_id = instance_id
        self.address = address
        self._tcp = parse_tcp_address(address)
        self._secret = secret
        self.in_flight = 0
        self._ids = itertools.count(1)
        self._waiting: dict[int, asyncio.Future[tuple[int, str, bytes]]] = {}
        self._transport: asyncio.Transport | None = None
        self._protocol: _Connection | None = None
        self._connecting: asyncio.Lock | None = None
        self._outgoing: list[bytes] = []  # frames waiting for this loop turn's write

    async def _connect(self) -> asyncio.Transport:
        if self._connecting is None:
            self._connecting = asyncio.Lock()
        async with self._connecting:
            if self._transport is not None and not self._transport.is_closing():
                return self._transport
            try:
                transport, protocol = await asyncio.wait_for(self._open(), CONNECT_TIMEOUT_SECONDS)
            except (OSError, asyncio.TimeoutError) as e:
                raise InstanceUnreachable(
                    f"cannot reach instance {self.instance_id} at {self.address}: {e or type(e).__name__}"
                ) from e
            self._transport, self._protocol = transport, protocol
            return transport

    async def _open(self) -> tuple[asyncio.Transport, _Connection]:
        loop = asyncio.get_running_loop()
        if self._tcp is None:
            return await loop.create_unix_connection(lambda: _Connection(self), self.address)
        if not self._secret:
            raise ConnectionError("no secret is known for it, and a TCP instance serves none without one")
        accepted: asyncio.Future[None] = loop.create_future()
        transport, protocol = await loop.create_connection(lambda: _Connection(self, accepted), *self._tcp)
        _keep_alive(transport.get_extra_info("socket"))
        transport.write(encode_hello(self._secret))
        try:
            await accepted  # nothing is sent before the instance took the secret: a refusal loses nothing
        except BaseException:
            transport.close()
            raise
        return transport, protocol

    def _lost(self, protocol: _Connection) -> None:
        if protocol is self._protocol:  # not an older connection closing late
            self._fail_waiting(f"instance {self.instance_id} closed its connection")

    def _fail_waiting(self, reason: str) -> None:
        waiting, self._waiting = self._waiting, {}
        for future in waiting.values():
            if not future.done():
                future.set_exception(InstanceGone(reason))
        self._outgoing.clear()
        transport, self._transport, self._protocol = self._transport, None, None
        if transport is not None:
            transport.close()

    def _flush(self) -> None:
        outgoing, self._outgoing = self._outgoing, []
        transport = self._transport
        if outgoing and transport is not None and not transport.is_closing():
            transport.write(outgoing[0] if len(outgoing) == 1 else b"".join(outgoing))

    async def invoke(
        self, content_type: str, accept: str, attributes: str, body: bytes
    ) -> tuple[int, str, bytes]:
        """(status, content type, body) of the instance's answer."""
        self.in_flight += 1
        try:
            transport = self._transport
            if transport is None or transport.is_closing():
                await self._connect()
            request_id = next(self._ids)
            loop = asyncio.get_running_loop()
            future: asyncio.Future[tuple[int, str, bytes]] = loop.create_future()
            self._waiting[request_id] = future
            self._outgoing.append(encode_request(request_id, content_type, accept, attributes, body))
            if len(self._outgoing) == 1:
                # Sent once this turn of the loop is over, with every other request it produced.
                loop.call_soon(self._flush)
            return await future
        finally:
            self.in_flight -= 1

    def close(self) -> None:
        self._fail_waiting(f"instance {self.instance_id} was taken out of service")
