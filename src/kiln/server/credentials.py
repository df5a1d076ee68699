"""Who a request comes from: the operator's API token, a host's job-scoped credential, a console session.

The server never keeps the operator's token: it keeps its SHA-256 (tokens are long random strings,
so a fast hash is enough) and a key derived from it, from which it derives everything it hands out:

- a training job's hosts get ``kiln-host.<mac>``, an HMAC of the job's name. It proves "a host of
  this job" and nothing else, stays valid across server restarts (the key comes from the same
  token) and is refused once the job has ended (``internal`` routes check that).
- a console sign-in gets a session cookie ``<id>.<expiry>.<mac>`` that is not the token, and a CSRF
  token bound to the session. Changing the token ends every session and host credential.

Without a token (auth off, loopback only) the key is random per server process; nothing checks it.
One parser reads every ``Authorization`` header (the API, the runtime path, the internal routes).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass

__all__ = [
    "HOST_CREDENTIAL_PREFIX",
    "MIN_TOKEN_LENGTH",
    "Credentials",
    "bearer_token",
]

MIN_TOKEN_LENGTH = 16  # shorter tokens can be guessed from a network; refused for a public address
HOST_CREDENTIAL_PREFIX = "kiln-host."
SESSION_SECONDS = 12 * 3600  # a console sign-in lasts a working day


def bearer_token(header: str | bytes | None) -> str | None:
    """The token of ``Authorization: Bearer <token>`` (scheme in any case), or None for anything else:
    another scheme, no token, or bytes no token can hold (never an exception, so never a 500)."""
    if not header:
        return None
    if isinstance(header, bytes):
        try:
            header = header.decode("ascii")
        except UnicodeDecodeError:
            return None
    elif not header.isascii():
        return None
    scheme, _, token = header.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or " " in token:
        return None
    return token


def _sha256(value: str) -> bytes:
    return hashlib.sha256(value.encode()).digest()


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


@dataclass(frozen=True)
class Session:
    id: str
    expires: int


class Credentials:
    """Checks the operator's token and issues and checks everything derived from it."""

    def __init__(self, token: str | None) -> None:
        self.enabled = bool(token)
        self._token_sha256 = _sha256(token) if token else b""
        secret = token.encode() if token else secrets.token_bytes(32)
        self._key = hmac.new(secret, b"kiln credentials v1", hashlib.sha256).digest()
        self._signed_out: dict[str, int] = {}  # session id → its expiry (kept only until then)

    @property
    def token_sha256(self) -> str | None:
        return self._token_sha256.hex() if self.enabled else None

    def _mac(self, *parts: str) -> str:
        return _b64(hmac.new(self._key, "\0".join(parts).encode(), hashlib.sha256).digest())

    # -- the operator ---------------------------------------------------------------------------------

    def is_operator_token(self, token: str | None) -> bool:
        """Constant time: the hashes are compared, so neither length nor prefix leaks."""
        return bool(token) and self.enabled and hmac.compare_digest(_sha256(token or ""), self._token_sha256)

    # -- training hosts -------------------------------------------------------------------------------

    def host_credential(self, job_name: str) -> str:
        return HOST_CREDENTIAL_PREFIX + self._mac("training-job", job_name)

    def is_host_credential(self, token: str | None, job_name: str) -> bool:
        return bool(token) and hmac.compare_digest(
            (token or "").encode(), self.host_credential(job_name).encode()
        )

    # -- console sessions -----------------------------------------------------------------------------

    def new_session(self, now: float | None = None) -> str:
        """A session cookie's value: a random id, its expiry, and a MAC over both."""
        session_id = secrets.token_urlsafe(18)
        expires = str(int((now or time.time()) + SESSION_SECONDS))
        return f"{session_id}.{expires}.{self._mac('console-session', session_id, expires)}"

    def session(self, cookie: str | None, now: float | None = None) -> Session | None:
        if not cookie or not self.enabled or not cookie.isascii():
            return None
        session_id, _, rest = cookie.partition(".")
        expires, _, mac = rest.partition(".")
        if not expires.isdigit() or not hmac.compare_digest(
            mac.encode(), self._mac("console-session", session_id, expires).encode()
        ):
            return None
        if int(expires) < (now or time.time()) or session_id in self._signed_out:
            return None
        return Session(session_id, int(expires))

    def sign_out(self, cookie: str | None) -> None:
        """End a session now. Remembered in memory until it would have expired anyway; the browser
        deletes its cookie too, so a restart that forgets this list reopens nothing in practice."""
        found = self.session(cookie)
        if found is not None:
            now = int(time.time())
            self._signed_out = {k: v for k, v in self._signed_out.items() if v >= now}
            self._signed_out[found.id] = found.expires

    def csrf_token(self, session: Session) -> str:
        return self._mac("csrf", session.id)

    def is_csrf_token(self, session: Session, token: str | None) -> bool:
        return bool(token) and hmac.compare_digest((token or "").encode(), self.csrf_token(session).encode())
