"""The one ASGI body reader: what it keeps, how far it reads, and a client that left."""

from __future__ import annotations

import asyncio
from collections.abc import MutableMapping
from typing import Any

from kiln.asgi_body import read_body


def _receive(*chunks: bytes, disconnect_after: int | None = None) -> Any:
    messages: list[MutableMapping[str, Any]] = [
        {"type": "http.request", "body": chunk, "more_body": i < len(chunks) - 1}
        for i, chunk in enumerate(chunks)
    ]
    if disconnect_after is not None:
        messages = [*messages[:disconnect_after], {"type": "http.disconnect"}]
    taken: list[int] = []

    async def receive() -> MutableMapping[str, Any]:
        taken.append(1)
        return messages[len(taken) - 1]

    receive.taken = taken  # type: ignore[attr-defined]
    return receive


def _read(receive: Any, keep: int, read: int | None = None) -> tuple[bytes, int, bool] | None:
    return asyncio.run(read_body(receive, keep, read))


def test_a_body_in_one_message_is_returned_whole_after_one_receive() -> None:
    receive = _receive(b"x" * 10)
    assert _read(receive, keep=4) == (b"x" * 10, 10, True)  # the caller compares size with its limit
    assert len(receive.taken) == 1


def test_chunks_within_the_limit_are_joined() -> None:
    assert _read(_receive(b"ab", b"cd", b"e"), keep=5) == (b"abcde", 5, True)


def test_past_the_limit_the_body_is_read_to_the_end_but_not_kept() -> None:
    receive = _receive(b"ab", b"cd", b"ef")
    assert _read(receive, keep=3) == (b"", 6, True)
    assert len(receive.taken) == 3


def test_past_read_reading_stops() -> None:
    receive = _receive(b"ab", b"cd", b"ef", b"gh")
    assert _read(receive, keep=3, read=3) == (b"", 4, False)
    assert len(receive.taken) == 2  # the rest is never read: an endless body cannot hold the server


def test_a_client_that_left_is_none() -> None:
    assert _read(_receive(b"ab", b"cd", disconnect_after=1), keep=10) is None
    assert _read(_receive(b"ab", disconnect_after=0), keep=10) is None
