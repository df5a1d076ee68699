"""The server's one mapping from Kiln errors (and request validation) to HTTP answers."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from kiln.errors import KilnError

__all__ = ["error_body", "install_error_handlers"]

log = logging.getLogger("kiln.server")


def error_body(error: str, message: str, **extra: Any) -> dict[str, Any]:
    """Every error answer of Kiln's HTTP API (the REST routes and the runtime router): Kiln's class
    name (the SDK rebuilds it), a message for a person, and any fields the answer adds (ModelError's
    ``OriginalStatusCode``)."""
    return {"error": error, "message": message, **extra}


def _describe_location(loc: tuple[int | str, ...]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path")]
    return ".".join(parts) or "request"


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(KilnError)
    async def kiln_error(_request: Request, exc: KilnError) -> JSONResponse:
        if exc.http_status >= 500:
            log.error("internal error: %s", exc.message)
        return JSONResponse(error_body(type(exc).__name__, exc.message), status_code=exc.http_status)

    @app.exception_handler(RequestValidationError)
    async def request_invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = []
        for err in exc.errors()[:5]:
            where = _describe_location(tuple(err.get("loc", ())))
            got = err.get("input")
            shown = "" if isinstance(got, dict) or got is None else f" (got {got!r})"
            problems.append(f"{where}: {err.get('msg', 'invalid')}{shown}")
        return JSONResponse(error_body("ValidationError", "; ".join(problems)), status_code=400)

    @app.exception_handler(Exception)
    async def unexpected(_request: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error")
        return JSONResponse(
            error_body("InternalError", f"the Kiln server failed: {type(exc).__name__}: {exc}"),
            status_code=500,
        )
