"""When a call may be sent again after the connection to the server failed, and how long to wait.

A server restart (``kill -9``, an OOM, a reboot, then ``kiln server start --daemon``) takes seconds,
and the SDK's objects should outlive it. What may be retried depends on what the server may have
done with the request:

- a request that never left (the connection was refused or never opened) may always be sent again:
  the server cannot have acted on it;
- a request that may have arrived (the connection broke while sending or waiting for the answer) may
  be sent again only when repeating it changes nothing: reads (GET), PUT of the same bytes, DELETE
  (a second delete that finds nothing means the first one did it);
- a create that may have arrived is resolved by its name (it exists: that is the answer), never sent
  twice; any other call (an invocation, a stop) is not repeated, and its error says it may have run.

Retries back off from 0.1 s to 2 s and stop after ``KILN_CLIENT_RETRY_SECONDS`` (default 60 s). A
client that has never reached its server, with no server recorded in ``KILN_HOME`` either, is not
riding out a restart: it gives up after ``FIRST_CONTACT_SECONDS``, so a mistyped ``KILN_URL`` or a
server that was never started is said at once, not after a minute.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

import httpx

from kiln.errors import ServerUnavailable

__all__ = [
    "FIRST_CONTACT_SECONDS",
    "MaybeCarriedOut",
    "RetryClock",
    "StreamBroken",
    "is_unsent",
    "may_repeat",
]

log = logging.getLogger("kiln.sdk")

FIRST_DELAY_SECONDS = 0.1
MAX_DELAY_SECONDS = 2.0  # a restarted server is found within 2 s of answering
FIRST_CONTACT_SECONDS = 3.0  # the most a client waits for a server it has never reached
_REPEATABLE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})


class MaybeCarriedOut(ServerUnavailable):
    """The connection broke after the request was sent: the server may or may not have acted on it."""


class StreamBroken(ServerUnavailable):
    """A streamed answer (a followed log) was cut off; open it again to resume."""


def is_unsent(error: httpx.TransportError) -> bool:
    """Whether the request surely never reached the server (no connection was ever made for it)."""
    return isinstance(error, (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout))


def may_repeat(method: str) -> bool:
    """Whether sending ``method`` twice has the effect of sending it once (RFC 9110 §9.2.2)."""
    return method.upper() in _REPEATABLE_METHODS


@dataclass
class RetryClock:
    """The backoff of one call: ``wait()`` sleeps the next delay, or says the time is up."""

    seconds: float
    started: float = field(default_factory=time.monotonic)
    delay: float = FIRST_DELAY_SECONDS
    attempts: int = 0

    def wait(self, what: str, url: str, error: Exception) -> bool:
        """Sleep before the next attempt; False (no sleep) once ``seconds`` have passed."""
        left = self.started + self.seconds - time.monotonic()
        if left <= 0:
            return False
        if self.attempts == 0:
            log.warning(
                "the Kiln server at %s did not answer %s (%s); retrying for up to %.0f s "
                "(KILN_CLIENT_RETRY_SECONDS)",
                url,
                what,
                error,
                self.seconds,
            )
        self.attempts += 1
        time.sleep(min(self.delay, left))
        self.delay = min(self.delay * 2, MAX_DELAY_SECONDS)
        return True
