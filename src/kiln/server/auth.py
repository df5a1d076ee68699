"""Authentication in front of every route: an ASGI guard that refuses by default.

When auth is on (an API token is configured; a non-loopback listener requires one), every request
passes ``AuthGuard`` before any route, router or static file sees it, so a route added later is
protected without saying so. What it lets through:

- programs: ``Authorization: Bearer <operator token>`` on any route;
- the web console: its session cookie (HttpOnly, SameSite=Strict) on pages, static files, the API and
  the runtime path; any request of it that changes state must also carry the session's CSRF token,
  in ``X-CSRF-Token`` (the console's script sends it) or, for a console form, as the ``csrf_token``
  field (templates write it with ``{{ csrf_field }}``): checked here, for every route;
- training hosts: ``/api/v1/internal/...`` is checked by those routes themselves against the job in
  the path (``require_host``): a host's credential reports for its own job and nothing else;
- layers that authenticate themselves (the AWS wire protocols with SigV4) claim their requests with
  ``AuthGuard.delegate``;
- ``GET /api/v1/health`` (it answers only "ok" to an anonymous caller) and the sign-in page.

Refusals: 401 in the API's error shape for the API and the runtime path, 403 for a missing CSRF
token, a redirect to the sign-in page for console pages.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, MutableMapping
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, quote

from fastapi import Request

from kiln.errors import Unauthorized
from kiln.records import utcnow
from kiln.server.credentials import Credentials, Session, bearer_token
from kiln.server.state import request_state

__all__ = [
    "CONSOLE_COOKIE",
    "CSRF_HEADER",
    "AuthGuard",
    "check_token",
    "console_session",
    "require_host",
]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

CONSOLE_COOKIE = "kiln_session"
CSRF_HEADER = "x-csrf-token"
OPEN_PATHS = frozenset({"/api/v1/health", "/login"})
INTERNAL_PREFIX = "/api/v1/internal/"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
MAX_FORM_BYTES = 1 << 20  # console forms are a few fields; larger bodies go through the API with the header
HOST_CREDENTIAL_GRACE = timedelta(minutes=10)  # a job's last hosts may still report after it ended
UNAUTHORIZED = (
    "this Kiln server requires an API token: send 'Authorization: Bearer <token>' "
    "(the SDK and CLI read it from KILN_API_TOKEN), or sign in to the web console"
)


def _is_api(path: str) -> bool:
    return path.startswith("/api/") or (path.startswith("/endpoints/") and path.endswith("/invocations"))


def _cookie(header: str, name: str) -> str | None:
    for part in header.split(";"):
        key, _, value = part.strip().partition("=")
        if key == name:
            return value
    return None


class AuthGuard:
    """The outermost ASGI layer of the server (see the module docstring)."""

    def __init__(self, app: ASGIApp, credentials: Credentials) -> None:
        self.app = app
        self.credentials = credentials
        self._delegates: list[Callable[[Scope], bool]] = []

    def delegate(self, claims: Callable[[Scope], bool]) -> None:
        """Requests for which ``claims(scope)`` is true go through unchecked: the layer that claims
        them authenticates them itself (SigV4 for the AWS wire protocols)."""
        self._delegates.append(claims)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket") or not self.credentials.enabled:
            await self.app(scope, receive, send)
            return
        path: str = scope.get("path", "")
        authorization = cookie = csrf = ""
        for key, value in scope.get("headers", ()):
            if key == b"authorization":
                authorization = value.decode("latin-1")
            elif key == b"cookie":
                cookie = value.decode("latin-1")
            elif key == b"x-csrf-token":
                csrf = value.decode("latin-1")
        state = scope.setdefault("state", {})
        api = _is_api(path)
        if api and self.credentials.is_operator_token(bearer_token(authorization)):
            state["principal"] = "operator"  # programs: the API and the runtime path
            await self.app(scope, receive, send)
            return
        session = self.credentials.session(_cookie(cookie, CONSOLE_COOKIE))
        if session is not None and not path.startswith(INTERNAL_PREFIX):
            if scope.get("method") not in SAFE_METHODS and not self.credentials.is_csrf_token(session, csrf):
                # A console form posts its token as a field: read the (small) form, then replay it.
                form = None if api else await _read_form(receive)
                if form is None or not self.credentials.is_csrf_token(session, _field(form, "csrf_token")):
                    await _refuse(send, 403, "the console's request lacks its CSRF token: reload the page")
                    return
                receive = _replay(form)
            state["principal"] = "console"
            state["session"] = session
            await self.app(scope, receive, send)
            return
        if path in OPEN_PATHS or path.startswith(INTERNAL_PREFIX) or any(d(scope) for d in self._delegates):
            await self.app(scope, receive, send)  # the route (or layer) decides what it answers
            return
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 4401})
        elif api:
            await _refuse(send, 401, UNAUTHORIZED)
        else:
            query = scope.get("query_string", b"").decode("latin-1")
            wanted = quote(path + (f"?{query}" if query else ""))
            headers = [(b"location", f"/login?next={wanted}".encode()), (b"content-length", b"0")]
            await send({"type": "http.response.start", "status": 303, "headers": headers})
            await send({"type": "http.response.body", "body": b""})


async def _read_form(receive: Receive) -> bytes | None:
    """The body of a console form (urlencoded, at most MAX_FORM_BYTES), or None."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return None
        chunk: bytes = message.get("body", b"")
        size += len(chunk)
        if size > MAX_FORM_BYTES:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


def _field(form: bytes, name: str) -> str | None:
    values = parse_qs(form.decode("latin-1"), keep_blank_values=True).get(name)
    return values[0] if values else None


def _replay(body: bytes) -> Receive:
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return receive


async def _refuse(send: Send, status: int, message: str) -> None:
    error = "Unauthorized" if status == 401 else "Forbidden"
    body = json.dumps({"error": error, "message": message}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    if status == 401:
        headers.append((b"www-authenticate", b'Bearer realm="kiln"'))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


# -- dependencies for routes ---------------------------------------------------------------------------


def _credentials(request: Request) -> Credentials:
    found = request_state(request).credentials
    return found


def check_token(request: Request) -> None:
    """The operator (a program with the token, or a signed-in console) — the guard has checked; this
    holds a route to it even if it were ever mounted outside the guard."""
    if _credentials(request).enabled and request.scope.get("state", {}).get("principal") is None:
        raise Unauthorized(UNAUTHORIZED)


def console_session(request: Request) -> Session | None:
    """The console session of this request, if it came from a signed-in console."""
    session: Session | None = request.scope.get("state", {}).get("session")
    return session


def require_host(request: Request, name: str) -> None:
    """A training host of job ``name``, by the credential the server gave its hosts; no one else
    (not even the operator's token) reports for a job. Refused once the job ended a while ago."""
    credentials = _credentials(request)
    if not credentials.enabled:
        return
    token = bearer_token(request.headers.get("authorization"))
    if not credentials.is_host_credential(token, name):
        raise Unauthorized(
            f"only the hosts of training job {name!r} report on this route, "
            "with the credential Kiln gave them"
        )
    job = request_state(request).training_jobs.describe(name)
    ended = job.training_end_time
    if job.status.is_terminal() and ended is not None and utcnow() - ended > HOST_CREDENTIAL_GRACE:
        raise Unauthorized(f"training job {name!r} has ended; its hosts' credential has expired")
