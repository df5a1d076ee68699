"""What every AWS service on the wire is: a signing name, a protocol, and one handler.

A handler is ``async def handle(request: starlette.requests.Request, call: WireCall) ->
starlette.responses.Response``. The dispatcher has already checked the signature (when auth is on)
and, for services that read their body whole, read it, so ``await request.body()`` is free. The
handler raises ``KilnError`` for anything the caller did wrong; the dispatcher answers it in the
service's protocol with the class's ``aws_code``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from starlette.datastructures import State
from starlette.requests import Request
from starlette.responses import Response

from kiln.server.wire.protocols import Protocol

__all__ = ["Handler", "WireCall", "WireService"]


@dataclass(frozen=True)
class WireCall:
    """Who called and where: the server's services (``app.state``) and the caller's credential."""

    state: State  # app.state: training_jobs, endpoints, tuning_jobs, store, settings, …
    access_key_id: str
    region: str  # from the credential scope; ARNs in answers carry it
    account_id: str  # settings.aws_account_id

    def arn(self, resource: str, service: str = "sagemaker") -> str:
        return f"arn:aws:{service}:{self.region}:{self.account_id}:{resource}"


Handler = Callable[[Request, WireCall], Awaitable[Response]]
Claims = Callable[[Mapping[str, Any], Mapping[str, str]], bool]


def _any_request(_scope: Mapping[str, Any], _headers: Mapping[str, str]) -> bool:
    return True


@dataclass(frozen=True)
class WireService:
    name: str  # botocore's service name (the client you make: boto3.client(name))
    signing_name: str  # the service in the SigV4 credential scope
    protocol: Protocol
    # None: the request is handed, authenticated, to the ASGI app behind the dispatcher, with
    # ``scope["kiln.wire"] = name`` (the runtime router answers invocations that way).
    handler: Handler | None
    # Several services may share a signing name (sagemaker and sagemaker-runtime): the first in the
    # table whose ``claims(scope, headers)`` is true takes the request.
    claims: Claims = _any_request
    # False: the handler streams the body itself (S3 uploads), and the signature's payload hash is
    # taken from X-Amz-Content-SHA256, which S3 clients always send.
    reads_body: bool = True
    # The X-Amz-Target values it serves (awsJson services): what ``route_samples`` lists.
    targets: tuple[str, ...] = ()
