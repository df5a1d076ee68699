"""IAM (query protocol): Kiln has no IAM, and says so in the answer IAM gives a caller it will not serve.

SageMaker Python SDK v3 checks the execution role before it creates a job: it simulates the role's
policies (``SimulatePrincipalPolicy``) and reads its trust policy (``GetRole``), and treats
``AccessDenied`` as "cannot be verified" and goes on. Kiln stores role ARNs with its resources and
checks none, so every IAM action answers ``AccessDenied`` (403) saying that, and the SDK proceeds as
it does for a caller who may not read IAM. A role given by name (not ARN) cannot be looked up.
"""

from __future__ import annotations

from urllib.parse import parse_qs

from starlette.requests import Request
from starlette.responses import Response

from kiln.server.wire._base import WireCall
from kiln.server.wire.protocols import Protocol, error_response

__all__ = ["handle"]


async def handle(request: Request, call: WireCall) -> Response:
    form = parse_qs((await request.body()).decode("utf-8", errors="replace"))
    form.update(parse_qs(request.url.query))
    action = (form.get("Action") or ["a request without Action"])[0]
    return error_response(
        Protocol.QUERY,
        "AccessDenied",
        f"Kiln has no IAM and does not serve {action}: role ARNs are stored with jobs and models and "
        f"never checked; give roles as full ARNs (arn:aws:iam::{call.account_id}:role/<name>), "
        "not as names to look up",
        403,
    )
