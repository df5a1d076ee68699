"""One ``POST /invocations``: the request as handlers see it, its ``context``, and its reply.

Every error a request can meet becomes a ``Reply`` here, in one place: Kiln's own errors keep their
HTTP status and message, an exception carrying an HTTP ``status_code`` (the SageMaker inference
toolkit's ``BaseInferenceToolkitError`` convention) keeps that status, and anything else a handler
raised is a 500 whose JSON body holds the exception and its traceback, so the caller can fix the
handler without reading the instance's log.
"""

from __future__ import annotations

import asyncio
import json
import logging
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import kiln
from kiln.errors import KilnError

__all__ = [
    "NOT_DECODED",
    "InferenceContext",
    "Invocation",
    "Reply",
    "error_reply",
    "reply_for_exception",
    "user_traceback",
]

logger = logging.getLogger("kiln.runtime.serving")

JSON_TYPE = "application/json"
_KILN_DIR = str(Path(kiln.__file__).resolve().parent)
NOT_DECODED: Any = object()  # Invocation.data before input_fn ran (None is a valid decoded input)


class InferenceContext:
    """What a handler's optional trailing ``context`` argument receives.

    It offers SageMaker's names (``custom_attributes`` from the ``X-Amzn-SageMaker-Custom-Attributes``
    header) and the TorchServe ``Context`` calls that SageMaker's PyTorch handlers use
    (``system_properties``, ``get_request_header(0, name)``). ``model_fn`` gets one with no request.
    """

    __slots__ = ("accept", "content_type", "custom_attributes", "model_dir", "request_headers")

    def __init__(
        self,
        model_dir: str,
        content_type: str | None = None,
        accept: str | None = None,
        custom_attributes: str | None = None,
        request_headers: dict[str, str] | None = None,
    ) -> None:
        self.model_dir = model_dir
        self.content_type = content_type
        self.accept = accept
        self.custom_attributes = custom_attributes
        self.request_headers = request_headers or {}

    @property
    def system_properties(self) -> dict[str, Any]:
        return {"model_dir": self.model_dir, "gpu_id": None, "batch_size": 1}

    def get_request_header(self, idx: int, key: str) -> str | None:
        """The request header ``key`` (any case); ``idx`` is TorchServe's batch index, always 0 here."""
        return self.request_headers.get(key.lower())

    def __repr__(self) -> str:
        return f"InferenceContext(custom_attributes={self.custom_attributes!r}, accept={self.accept!r})"


class Reply:
    """An HTTP answer: status, body and content type."""

    __slots__ = ("body", "content_type", "status")

    def __init__(self, status: int, body: bytes, content_type: str = JSON_TYPE) -> None:
        self.status = status
        self.body = body
        self.content_type = content_type


class Invocation:
    """One request on its way through the handler chain; the worker thread fills in the reply."""

    __slots__ = (
        "_context",
        "accept",
        "arrived",
        "body",
        "content_type",
        "custom_attributes",
        "data",
        "future",
        "headers",
        "model_dir",
        "on_reply",
        "prediction",
        "reply",
        "response_type",
        "tfs",
    )

    def __init__(
        self,
        body: bytes,
        content_type: str,
        accept: str,
        custom_attributes: str | None,
        headers: list[tuple[bytes, bytes]],
        model_dir: str,
    ) -> None:
        self.body = body
        self.content_type = content_type
        self.accept = accept  # as handlers see it: the header, or the default type for none or */*
        self.custom_attributes = custom_attributes
        self.headers = headers
        self.model_dir = model_dir
        self.response_type = accept  # the negotiated type when Kiln's own output_fn answers
        self.data: Any = NOT_DECODED
        self.tfs = False  # the body used TF Serving's {"instances": ...} envelope
        self.prediction: Any = None
        self.reply: Reply | None = None
        self.arrived = 0.0
        self.future: asyncio.Future[Reply] | None = None
        # Called with the reply on the event loop instead of resolving a future (the IPC channel).
        self.on_reply: Callable[[Reply], None] | None = None

    @property
    def context(self) -> InferenceContext:
        # Built on demand: only handlers that take a context argument pay for it.
        headers = {name.decode("latin-1"): value.decode("latin-1") for name, value in self.headers}
        return InferenceContext(
            self.model_dir, self.content_type, self.accept, self.custom_attributes, headers
        )


def error_reply(status: int, message: str, trace: str | None = None) -> Reply:
    """A JSON error body ``{"error": message}`` (plus ``traceback`` for a failing handler)."""
    payload: dict[str, str] = {"error": message}
    if trace is not None:
        payload["traceback"] = trace
    return Reply(status, json.dumps(payload).encode("utf-8"))


def reply_for_exception(exc: BaseException, where: str) -> Reply:
    """The reply for ``exc``, raised while running ``where`` (e.g. ``"predict_fn"``) for one request."""
    if isinstance(exc, KilnError):
        return error_reply(exc.http_status, exc.message)
    status = getattr(exc, "status_code", None)
    if isinstance(status, int) and 400 <= status <= 599:
        message = getattr(exc, "message", None) or str(exc)
        return error_reply(status, str(message))
    trace = user_traceback(exc)
    # The instance's log is the endpoint's log stream (SageMaker's CloudWatch): keep the whole story there.
    logger.error("%s failed for one request; the instance keeps serving.\n%s", where, trace.rstrip())
    return error_reply(500, f"{type(exc).__name__}: {exc}", trace)


def user_traceback(exc: BaseException) -> str:
    """``exc``'s traceback from the user's handler on, without Kiln's plumbing above it.

    The frames after Kiln's last one are the user's (and the libraries they called); an exception
    raised in Kiln itself keeps its whole traceback.
    """
    start = tb = exc.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename.startswith(_KILN_DIR):
            start = tb.tb_next  # None when Kiln's frame is the last: the error is Kiln's own
        tb = tb.tb_next
    return "".join(traceback.format_exception(type(exc), exc, start or exc.__traceback__))
