"""The server's one mapping from Kiln errors (and request validation) to HTTP answers."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from kiln.errors import KilnError
from kiln.services.training_request import describe_shape_errors

__all__ = ["error_body", "install_error_handlers"]

log = logging.getLogger("kiln.server")


def error_body(error: str, message: str, **extra: Any) -> dict[str, Any]:
    """Every error answer of Kiln's HTTP API (the REST routes and the runtime router): Kiln's class
    name (the SDK rebuilds it), a message for a person, and any fields the answer adds (ModelError's
    ``OriginalStatusCode``)."""
    return {"error": error, "message": message, **extra}


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(KilnError)
    async def kiln_error(_request: Request, exc: KilnError) -> JSONResponse:
        if exc.http_status >= 500:
            log.error("internal error: %s", exc.message)
        return JSONResponse(error_body(type(exc).__name__, exc.message), status_code=exc.http_status)

    @app.exception_handler(RequestValidationError)
    async def request_invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
        # The same words as a request parsed outside FastAPI (a tuning job's trial, the AWS wire).
        message = describe_shape_errors(list(exc.errors()))
        return JSONResponse(error_body("ValidationError", message), status_code=400)

    @app.exception_handler(Exception)
    async def unexpected(_request: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error")
        return JSONResponse(
            error_body("InternalError", f"the Kiln server failed: {type(exc).__name__}: {exc}"),
            status_code=500,
        )
