"""API-token authentication: when a token is configured, every API call must carry it.

Programs send ``Authorization: Bearer <token>``; the web console's pages and their fetch calls send
the same token in the ``kiln_token`` cookie that its login page sets (HttpOnly, SameSite=Strict).
"""

from __future__ import annotations

import hmac

from fastapi import Request

from kiln.errors import Unauthorized

__all__ = ["CONSOLE_COOKIE", "check_token", "token_matches"]

CONSOLE_COOKIE = "kiln_token"


def token_matches(given: str, expected: str) -> bool:
    # Compared as bytes: compare_digest refuses str with non-ASCII characters (a TypeError, so a 500),
    # and headers arrive latin-1 decoded, so a stray byte in a bad token must still be a plain 401.
    return hmac.compare_digest(
        given.strip().encode("utf-8", "surrogateescape"), expected.encode("utf-8", "surrogateescape")
    )


def check_token(request: Request) -> None:
    expected: str | None = request.app.state.settings.api_token
    if not expected:
        return
    header = request.headers.get("authorization", "")
    scheme, _, given = header.partition(" ")
    if scheme.lower() == "bearer" and token_matches(given, expected):
        return
    cookie = request.cookies.get(CONSOLE_COOKIE)
    if cookie is not None and token_matches(cookie, expected):
        return
    raise Unauthorized(
        "this Kiln server requires an API token: send 'Authorization: Bearer <token>' "
        "(the SDK and CLI read it from KILN_API_TOKEN), or sign in to the web console"
    )
