"""InvokeEndpoint's errors as sagemaker-runtime answers them (REST-JSON, code in ``x-amzn-ErrorType``).

The runtime router answers Kiln's own clients in Kiln's error shape; a request that came through the
AWS wire gets SageMaker's instead: anything the model's container refused or failed on is a
``ModelError`` (424) carrying the container's status and message, a missing or not-yet-serving
endpoint or a bad variant is a ``ValidationError`` (400), and no instance to serve is
``ServiceUnavailable`` (503).
"""

from __future__ import annotations

import json

__all__ = ["runtime_error"]

_SERVICE_UNAVAILABLE = 503


def runtime_error(status: int, reply: bytes) -> tuple[int, bytes, bytes, bytes]:
    """(status, content type, body, error type) of a router error answer, as sagemaker-runtime's."""
    try:
        kiln: dict[str, object] = json.loads(reply)
    except ValueError:
        kiln = {"message": reply[:1024].decode("utf-8", errors="replace")}
    message = str(kiln.get("message", ""))
    original = kiln.get("OriginalStatusCode")
    if kiln.get("error") == "ModelError" or original is not None:
        original_message = str(kiln.get("OriginalMessage", message))
        if kiln.get("error") != "ModelError":
            message = f'Received client error ({original}) from model with message "{original_message}".'
        body = {"message": message, "OriginalStatusCode": original, "OriginalMessage": original_message}
        return 424, b"application/json", json.dumps(body).encode(), b"ModelError"
    if status == _SERVICE_UNAVAILABLE:
        return status, b"application/json", json.dumps({"message": message}).encode(), b"ServiceUnavailable"
    if status >= 500:
        return status, b"application/json", json.dumps({"message": message}).encode(), b"InternalFailure"
    return 400, b"application/json", json.dumps({"message": message}).encode(), b"ValidationError"
