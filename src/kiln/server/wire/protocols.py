"""The four AWS wire protocols' answers: JSON (awsJson1_1), REST-JSON, query (XML) and REST-XML.

One error builder per protocol, shaped the way botocore's parsers read it (``parsers.py``):
awsJson takes the code from ``__type`` and the text from ``message``; REST-JSON takes the code from
the ``x-amzn-errortype`` header; query reads ``<ErrorResponse><Error><Code>``; REST-XML (S3) reads
``<Error><Code>`` and, for HEAD requests, only the status.
"""

from __future__ import annotations

import enum
import json
import uuid
from typing import Any
from xml.sax.saxutils import escape

from starlette.responses import Response

from kiln.errors import KilnError

__all__ = [
    "AMZ_JSON",
    "Protocol",
    "error_response",
    "json_response",
    "kiln_error_response",
    "new_request_id",
    "xml_response",
]

AMZ_JSON = "application/x-amz-json-1.1"


class Protocol(str, enum.Enum):
    JSON = "json"
    REST_JSON = "rest-json"
    QUERY = "query"
    REST_XML = "rest-xml"


def new_request_id() -> str:
    return str(uuid.uuid4())


def json_response(body: dict[str, Any], status: int = 200, request_id: str | None = None) -> Response:
    return Response(
        json.dumps(body, separators=(",", ":")).encode(),
        status_code=status,
        media_type=AMZ_JSON,
        headers={"x-amzn-RequestId": request_id or new_request_id()},
    )


def xml_response(body: str, status: int = 200, request_id: str | None = None) -> Response:
    return Response(
        ('<?xml version="1.0" encoding="UTF-8"?>\n' + body).encode(),
        status_code=status,
        media_type="text/xml",
        headers={"x-amzn-RequestId": request_id or new_request_id(), "x-amz-request-id": request_id or ""},
    )


def error_response(
    protocol: Protocol, code: str, message: str, status: int = 400, *, head: bool = False, **extra: Any
) -> Response:
    """An AWS error answer; ``extra`` members (e.g. ModelError's OriginalStatusCode) join the body."""
    request_id = new_request_id()
    if protocol is Protocol.JSON:
        return json_response({"__type": code, "message": message, **extra}, status, request_id)
    if protocol is Protocol.REST_JSON:
        response = json_response({"message": message, **extra}, status, request_id)
        response.headers["x-amzn-ErrorType"] = code
        response.headers["content-type"] = "application/json"
        return response
    sender = "Receiver" if status >= 500 else "Sender"
    if protocol is Protocol.QUERY:
        return xml_response(
            f"<ErrorResponse><Error><Type>{sender}</Type><Code>{escape(code)}</Code>"
            f"<Message>{escape(message)}</Message></Error><RequestId>{request_id}</RequestId>"
            "</ErrorResponse>",
            status,
            request_id,
        )
    if head:  # a HEAD answer has no body; botocore reads the status alone
        return Response(status_code=status, headers={"x-amz-request-id": request_id})
    return xml_response(
        f"<Error><Code>{escape(code)}</Code><Message>{escape(message)}</Message>"
        f"<RequestId>{request_id}</RequestId></Error>",
        status,
        request_id,
    )


def kiln_error_response(protocol: Protocol, error: KilnError, *, head: bool = False) -> Response:
    """A Kiln error in a protocol's shape: the code from the class's ``aws_code``; AWS answers every
    client error with 400 on the JSON and query protocols, and 500/503 for its own faults."""
    rest = protocol in (Protocol.REST_JSON, Protocol.REST_XML)
    status = error.http_status if error.http_status >= 500 or rest else 400
    return error_response(protocol, error.aws_code, error.message, status, head=head)
