"""API-token authentication: when a token is configured, every API call must carry it."""

from __future__ import annotations

import hmac

from fastapi import Request

from kiln.errors import Unauthorized

__all__ = ["check_token"]


def check_token(request: Request) -> None:
    expected: str | None = request.app.state.settings.api_token
    if not expected:
        return
    header = request.headers.get("authorization", "")
    scheme, _, given = header.partition(" ")
    # Compared as bytes: compare_digest refuses str with non-ASCII characters (a TypeError, so a 500),
    # and headers arrive latin-1 decoded, so a stray byte in a bad token must still be a plain 401.
    if scheme.lower() != "bearer" or not hmac.compare_digest(
        given.strip().encode("utf-8", "surrogateescape"), expected.encode("utf-8", "surrogateescape")
    ):
        raise Unauthorized(
            "this Kiln server requires an API token: send 'Authorization: Bearer <token>' "
            "(the SDK and CLI read it from KILN_API_TOKEN)"
        )
