"""SageMaker's control plane (awsJson1_1, ``X-Amz-Target: SageMaker.<Operation>``) as one table.

``OPERATIONS`` maps each operation name to an ``Operation`` over the existing services; ``handle``
is the only code path: parse the JSON body, check it against botocore's input shape, run the
operation in a worker thread (services use the database), trim the answer to botocore's output shape
(epoch-second timestamps, the caller's ARNs), and answer errors as SageMaker does.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from kiln.errors import Conflict, NotFound
from kiln.server.wire._base import WireCall
from kiln.server.wire.operations import Operation, aws_arn
from kiln.server.wire.protocols import Protocol, error_response, json_response
from kiln.server.wire.sagemaker_hosting import HOSTING_OPERATIONS
from kiln.server.wire.sagemaker_pipelines import PIPELINE_OPERATIONS
from kiln.server.wire.sagemaker_processing import PROCESSING_OPERATIONS
from kiln.server.wire.sagemaker_tags import TAG_OPERATIONS
from kiln.server.wire.sagemaker_training import TRAINING_OPERATIONS
from kiln.server.wire.sagemaker_transform import TRANSFORM_OPERATIONS
from kiln.server.wire.shapes import check_input, operation_model, to_shape
from kiln.server.wire.uris import answer_uri, request_uris

__all__ = ["OPERATIONS", "TARGET_PREFIX", "handle"]

TARGET_PREFIX = "SageMaker."

OPERATIONS: dict[str, Operation] = {
    **TRAINING_OPERATIONS,
    **HOSTING_OPERATIONS,
    **TAG_OPERATIONS,
    **TRANSFORM_OPERATIONS,
    **PROCESSING_OPERATIONS,
    **PIPELINE_OPERATIONS,
}


def _run(operation: Operation, call: WireCall, params: dict[str, Any]) -> dict[str, Any] | tuple[str, str]:
    """The answer, or SageMaker's (code, message) for a refusal it words its own way."""
    try:
        return operation.run(call, params)
    except NotFound:
        if operation.missing is None:
            raise
        return operation.missing(call, params)
    except Conflict:
        if operation.conflict is None:
            raise
        return operation.conflict(call, params)


async def handle(request: Request, call: WireCall) -> Response:
    target = request.headers.get("x-amz-target", "")
    name = target[len(TARGET_PREFIX) :] if target.startswith(TARGET_PREFIX) else ""
    operation = OPERATIONS.get(name)
    if operation is None:
        return error_response(
            Protocol.JSON,
            "UnknownOperationException",
            f"Kiln does not serve SageMaker operation {target!r}; it serves {', '.join(sorted(OPERATIONS))}",
        )
    try:
        params = json.loads(await request.body() or b"{}")
    except ValueError as e:
        return error_response(Protocol.JSON, "SerializationException", f"the request body is not JSON: {e}")
    if not isinstance(params, dict):
        return error_response(
            Protocol.JSON, "SerializationException", "the request body must be a JSON object"
        )
    model = operation_model("sagemaker", name)
    check_input(params, model.input_shape)
    store = call.state.store
    answer = await run_in_threadpool(_run, operation, call, request_uris(params, store))
    if isinstance(answer, tuple):
        return error_response(Protocol.JSON, *answer)
    if not model.output_shape:
        return json_response({})
    prefix = call.arn("")
    shaped = to_shape(answer, model.output_shape, lambda text: answer_uri(aws_arn(text, prefix), store))
    return json_response(shaped)
