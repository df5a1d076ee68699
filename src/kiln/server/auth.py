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
    if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip(), expected):
        raise Unauthorized(
            "this Kiln server requires an API token: send 'Authorization: Bearer <token>' "
            "(the SDK and CLI read it from KILN_API_TOKEN)"
        )
