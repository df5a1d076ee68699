"""The table of AWS services on Kiln's wire: the one place a service is added.

Order matters only among services that share a signing name: botocore signs both SageMaker's control
plane and its runtime as ``sagemaker``, so the runtime (``POST /endpoints/{name}/invocations`` with no
``X-Amz-Target``) is listed first and claims its path; the control plane takes the rest.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from kiln.server.wire import iam, logs, sagemaker, sts
from kiln.server.wire._base import Handler, WireCall, WireService
from kiln.server.wire.protocols import Protocol

__all__ = ["wire_services"]

INVOCATIONS_PREFIX = "/endpoints/"
INVOCATIONS_SUFFIX = "/invocations"


def _is_invocation(scope: Mapping[str, Any], headers: Mapping[str, str]) -> bool:
    path: str = scope["path"]
    return (
        "x-amz-target" not in headers
        and path.startswith(INVOCATIONS_PREFIX)
        and path.endswith(INVOCATIONS_SUFFIX)
    )


def _s3_handler() -> Handler | None:
    """S3 over the artifact store, when this build has it (``kiln.server.wire.s3.handle_s3``)."""
    try:
        module = importlib.import_module("kiln.server.wire.s3")
    except ImportError:
        return None
    handle_s3 = module.handle_s3

    async def handle(request: Request, call: WireCall) -> Response:
        response: Response = await handle_s3(request, call.state.store)
        return response

    return handle


def wire_services() -> list[WireService]:
    services = [
        WireService(
            "sagemaker-runtime", "sagemaker", Protocol.REST_JSON, handler=None, claims=_is_invocation
        ),
        WireService(
            "sagemaker",
            "sagemaker",
            Protocol.JSON,
            sagemaker.handle,
            targets=tuple(sagemaker.TARGET_PREFIX + op for op in sagemaker.OPERATIONS),
        ),
        WireService(
            "logs",
            "logs",
            Protocol.JSON,
            logs.handle,
            targets=tuple(logs.TARGET_PREFIX + op for op in logs.OPERATIONS),
        ),
        WireService("sts", "sts", Protocol.QUERY, sts.handle),
        WireService("iam", "iam", Protocol.QUERY, iam.handle),
    ]
    s3 = _s3_handler()
    if s3 is not None:
        services.append(WireService("s3", "s3", Protocol.REST_XML, s3, reads_body=False))
    return services
