"""The ASGI layer in front of Kiln: AWS requests to their service's handler, everything else through.

A request is an AWS one when it carries a SigV4 ``Authorization`` header, a presigned
``X-Amz-Credential`` query, or an ``X-Amz-Target`` header; anything else costs one scan of its headers
and goes on to the app behind (the runtime router, then FastAPI). The service is the signing name of
the credential scope (or, unsigned, the target's prefix), so a bucket called ``endpoints`` never
collides with the runtime path.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping, MutableMapping, Sequence
from datetime import datetime, timezone
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import State
from starlette.requests import Request
from starlette.responses import Response

from kiln.asgi_body import read_body
from kiln.errors import KilnError
from kiln.server.wire._base import WireCall, WireService
from kiln.server.wire.protocols import Protocol, error_response, kiln_error_response
from kiln.server.wire.sigv4 import Credential, MalformedSignature, read_credential, signature_matches

__all__ = ["MAX_BODY_BYTES", "WireDispatcher", "is_aws_request"]

log = logging.getLogger("kiln.server.wire")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

MAX_BODY_BYTES = 8 * 1024 * 1024  # above InvokeEndpoint's 6 MB; control-plane requests are small
TARGET_SERVICES = {"SageMaker": "sagemaker", "Logs_20140328": "logs"}  # unsigned awsJson requests
KEY_HINT = (
    "(Kiln: `kiln keys create --name NAME` makes a key; set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)"
)

# (missing signature, unknown or revoked key, wrong signature, unreadable signature): AWS's codes.
_AUTH_CODES = {
    Protocol.JSON: (
        "MissingAuthenticationTokenException",
        "UnrecognizedClientException",
        "InvalidSignatureException",
        "IncompleteSignatureException",
    ),
    Protocol.REST_JSON: (
        "MissingAuthenticationTokenException",
        "UnrecognizedClientException",
        "InvalidSignatureException",
        "IncompleteSignatureException",
    ),
    Protocol.QUERY: (
        "MissingAuthenticationToken",
        "InvalidClientTokenId",
        "SignatureDoesNotMatch",
        "IncompleteSignature",
    ),
    Protocol.REST_XML: (
        "AccessDenied",
        "InvalidAccessKeyId",
        "SignatureDoesNotMatch",
        "AuthorizationHeaderMalformed",
    ),
}
_MISSING, _UNKNOWN, _MISMATCH, _MALFORMED = range(4)
_MESSAGES = (
    "Missing Authentication Token: this Kiln server requires every AWS request to be signed "
    f"with an access key {KEY_HINT}",
    f"The security token included in the request is invalid: no active access key has this id {KEY_HINT}",
    "The request signature we calculated does not match the signature you provided. Check your "
    "AWS Secret Access Key and signing method (Kiln: the secret is the one `kiln keys create` printed)",
)


def _auth_error(protocol: Protocol, kind: int, message: str = "", *, head: bool = False) -> Response:
    code = _AUTH_CODES[protocol][kind]
    status = 400 if kind == _MALFORMED else 403
    return error_response(protocol, code, message or _MESSAGES[kind], status, head=head)


def _replay(body: bytes, receive: Receive) -> Receive:
    """A receive that gives the already-read body once, then waits on the client (disconnect)."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


def is_aws_request(scope: Scope) -> bool:
    """Whether a request speaks an AWS protocol (signed SigV4, presigned, or an X-Amz-Target):
    the wire authenticates those itself, so the server's AuthGuard leaves them to it."""
    if scope["type"] != "http":
        return False
    if b"X-Amz-Credential=" in scope["query_string"]:
        return True
    for key, value in scope["headers"]:
        if (key == b"authorization" and value.startswith(b"AWS4-")) or key == b"x-amz-target":
            return True
    return False


class WireDispatcher:
    """ASGI: AWS requests to ``services`` (authenticated when ``auth``), the rest to ``app``."""

    def __init__(
        self,
        app: ASGIApp,
        state: State,
        services: Sequence[WireService],
        *,
        auth: bool,
        account_id: str,
    ) -> None:
        self.app = app
        self.state = state
        self.auth = auth
        self.account_id = account_id
        self._by_signing_name: dict[str, list[WireService]] = {}
        for service in services:
            self._by_signing_name.setdefault(service.signing_name, []).append(service)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if not is_aws_request(scope):  # Kiln's own API, console and runtime path: one header scan
            await self.app(scope, receive, send)
            return
        await self._serve(scope, receive, send)

    def route_samples(self) -> list[tuple[str, str, dict[str, str]]]:
        """(method, path, headers) of every request this layer answers that a header selects (the
        awsJson operations); S3, STS and the runtime are told apart by their signature alone."""
        return [
            ("POST", "/", {"X-Amz-Target": target})
            for group in self._by_signing_name.values()
            for service in group
            for target in service.targets
        ]

    def _service_for(self, signing_name: str, scope: Scope, headers: Mapping[str, str]) -> WireService | None:
        for service in self._by_signing_name.get(signing_name, ()):
            if service.claims(scope, headers):
                return service
        return None

    async def _serve(self, scope: Scope, receive: Receive, send: Send) -> None:
        header_list = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in scope["headers"]]
        headers = dict(header_list)
        query = scope["query_string"].decode("latin-1")
        head = scope["method"] == "HEAD"
        target = headers.get("x-amz-target", "")
        guessed = TARGET_SERVICES.get(target.partition(".")[0], "")
        try:
            credential = read_credential(headers.get("authorization", ""), query, headers)
        except MalformedSignature as e:
            service = self._service_for(guessed, scope, headers) if guessed else None
            protocol = service.protocol if service else (Protocol.JSON if target else Protocol.REST_XML)
            await _auth_error(protocol, _MALFORMED, f"Authorization is malformed: {e}", head=head)(
                scope, receive, send
            )
            return
        signing_name = credential.service if credential is not None else guessed
        service = self._service_for(signing_name, scope, headers)
        if service is None:
            await self._unknown_service(signing_name, target, head)(scope, receive, send)
            return
        if credential is None:
            await _auth_error(service.protocol, _MISSING, head=head)(scope, receive, send)
            return
        body: bytes | None = None
        if service.reads_body:
            received = await read_body(receive, MAX_BODY_BYTES, MAX_BODY_BYTES)
            body = None if received is None or received[1] > MAX_BODY_BYTES else received[0]
            if body is None:  # over the limit (or the client went away: it hears nothing)
                await error_response(
                    service.protocol,
                    "RequestEntityTooLarge",
                    f"the request body is over {MAX_BODY_BYTES:,} bytes, the most Kiln's AWS wire reads",
                    413,
                    head=head,
                )(scope, receive, send)
                return
        refusal = await self._check(service, credential, scope, query, header_list, body, head)
        if refusal is not None:
            await refusal(scope, receive, send)
            return
        call = WireCall(self.state, credential.access_key_id, credential.region, self.account_id)
        request_receive = receive if body is None else _replay(body, receive)
        if service.handler is None:  # the app behind answers it, knowing it is authenticated
            forwarded = dict(scope)
            forwarded["kiln.wire"] = service.name
            await self.app(forwarded, request_receive, send)
            return
        try:
            response = await service.handler(Request(scope, request_receive), call)
        except KilnError as e:
            if e.http_status >= 500:
                log.error("%s failed: %s", service.name, e.message)
            response = kiln_error_response(service.protocol, e, head=head)
        except Exception as e:
            log.exception("%s failed", service.name)
            response = error_response(
                service.protocol, "InternalFailure", f"the Kiln server failed: {type(e).__name__}: {e}", 500
            )
        await response(scope, request_receive, send)

    async def _check(
        self,
        service: WireService,
        credential: Credential,
        scope: Scope,
        query: str,
        header_list: list[tuple[str, str]],
        body: bytes | None,
        head: bool,
    ) -> Response | None:
        """A refusal, or None when the request may go on."""
        try:
            expired = credential.expired(datetime.now(timezone.utc))
        except MalformedSignature as e:
            return _auth_error(service.protocol, _MALFORMED, f"Authorization is malformed: {e}", head=head)
        if not self.auth:
            return None  # loopback without an API token: a well-formed signature is enough
        if expired:
            return _auth_error(
                service.protocol,
                _MISMATCH,
                f"Signature expired: {credential.timestamp} is more than 15 minutes from the server's "
                "time (or past the presigned URL's expiry); check the client's clock",
                head=head,
            )
        keys = self.state.access_keys
        known, secret = keys.cached_secret(credential.access_key_id)
        if not known:
            secret = await run_in_threadpool(keys.secret_for, credential.access_key_id)
        if secret is None:
            return _auth_error(service.protocol, _UNKNOWN, head=head)
        if (
            body is None
            and "x-amz-content-sha256" not in credential.signed_headers
            and not credential.presigned
        ):
            return _auth_error(
                service.protocol, _MALFORMED, "sign X-Amz-Content-SHA256 (S3 clients do)", head=head
            )
        matches = signature_matches(
            credential,
            secret,
            method=scope["method"],
            scheme=scope.get("scheme", "http"),
            raw_path=(scope.get("raw_path") or scope["path"].encode()).decode("latin-1"),
            query=query,
            header_list=header_list,
            body=body,
        )
        return None if matches else _auth_error(service.protocol, _MISMATCH, head=head)

    def _unknown_service(self, signing_name: str, target: str, head: bool) -> Response:
        served = ", ".join(sorted({s.name for group in self._by_signing_name.values() for s in group}))
        protocol = Protocol.JSON if target else Protocol.REST_XML
        what = f"service {signing_name!r}" if signing_name else f"target {target!r}"
        return error_response(
            protocol,
            "UnknownOperationException" if target else "NotImplemented",
            f"Kiln's AWS wire does not serve the {what}; it serves {served}",
            400 if target else 501,
            head=head,
        )
