"""SageMaker's runtime path, ``POST /endpoints/{name}/invocations``, served ahead of the REST API.

An ASGI wrapper around the FastAPI app: invocations never touch FastAPI's routing or pydantic, since
per-request Python work decides throughput for small models. The router picks the variant by weight
(or the ``X-Amzn-SageMaker-Target-Variant`` header), then the instance with the fewest requests in
flight, and forwards over that instance's link (a Unix socket on the server's machine, TCP with the
instance's secret on another node). The endpoint service publishes routes as
immutable snapshots, so a request never sees half an update. ``AuthGuard`` in front of it has
checked the caller's credentials before a request gets here.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from kiln.asgi_body import read_body
from kiln.errors import (
    Conflict,
    KilnError,
    ModelError,
    NotFound,
    PayloadTooLarge,
    ServerUnavailable,
    ValidationError,
    error_for_status,
)
from kiln.records import EndpointRoutes, VariantRoute
from kiln.server.errors import error_body
from kiln.server.wire.runtime import runtime_error
from kiln.services.instance_links import TCP_SCHEME, InstanceGone, InstanceLink, InstanceUnreachable
from kiln.services.invocation_metrics import InvocationMetrics

__all__ = ["RuntimeRouter"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

MAX_PAYLOAD_BYTES = 6 * 1024 * 1024  # SageMaker's InvokeEndpoint limit (6 MB)
PREFIX = "/endpoints/"
SUFFIX = "/invocations"
_JSON = b"application/json"
# What an invocation that reached a variant tells the metrics: the model's status (or the platform's,
# when no model answered), the model's seconds (None when no model was reached), the variant's instances.
_Outcome = tuple[int, float | None, int] | None


def _error(
    error: type[KilnError], message: str, *, status: int | None = None, **extra: Any
) -> tuple[int, bytes]:
    """(status, body) in the API's one error shape; the status is the class's unless given."""
    body = error_body(error.__name__, message, **extra)
    return status or error.http_status, json.dumps(body).encode()


class RuntimeRouter:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._routes: dict[str, EndpointRoutes] = {}
        self._links: dict[str, InstanceLink] = {}
        # Instances whose link failed: skipped until the service publishes routes without them.
        self._dead: set[str] = set()
        self._random = random.Random()
        self.known_endpoint: Callable[[str], str | None] = lambda name: None  # status of an unrouted endpoint
        self.metrics: InvocationMetrics | None = None  # the endpoint metrics' counters; None: not counted
        # The secret a TCP instance's link presents, by instance id (the endpoint service's fleet
        # derives it); None: unknown, and such an instance is unreachable.
        self.link_secret: Callable[[str], bytes | None] = lambda instance_id: None

    # -- published by the endpoint service (from any thread) ------------------------------------------

    def publish(self, routes: EndpointRoutes) -> None:
        updated = dict(self._routes)
        updated[routes.name] = routes
        self._routes = updated  # one assignment: readers see the old table or the new one
        listed = {i for r in updated.values() for v in r.variants for i, _ in v.instances}
        self._dead = self._dead & listed

    def withdraw(self, name: str) -> None:
        updated = dict(self._routes)
        updated.pop(name, None)
        self._routes = updated

    def in_flight(self, instance_id: str) -> int:
        link = self._links.get(instance_id)
        return link.in_flight if link is not None else 0

    def forget_instance(self, instance_id: str) -> None:
        link = self._links.pop(instance_id, None)
        if link is not None:
            link.close()

    def route_samples(self) -> list[tuple[str, str]]:
        """(method, path) of each route this layer serves ahead of the app: every ASGI layer in front of
        FastAPI lists its routes, so the test that every route refuses an anonymous caller sees them."""
        return [("POST", f"{PREFIX}some-endpoint{SUFFIX}"), ("GET", f"{PREFIX}some-endpoint{SUFFIX}")]

    # -- ASGI -----------------------------------------------------------------------------------------

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope.get("path", "")
        if scope["type"] != "http" or not (path.startswith(PREFIX) and path.endswith(SUFFIX)):
            await self.app(scope, receive, send)
            return
        metrics = self.metrics
        arrived = time.perf_counter() if metrics is not None else 0.0
        name = path[len(PREFIX) : -len(SUFFIX)]
        if scope["method"] != "POST":
            await _answer(send, *_error(ValidationError, f"Use POST {path}.", status=405))
            return
        content_type = accept = attributes = target = ""
        length = -1
        for key, value in scope["headers"]:
            if key == b"content-type":
                content_type = value.decode("latin-1")
            elif key == b"accept":
                accept = value.decode("latin-1")
            elif key == b"content-length":
                length = int(value) if value.isdigit() else -1
            elif key == b"x-amzn-sagemaker-target-variant":
                target = value.decode("latin-1")
            elif key == b"x-amzn-sagemaker-custom-attributes":
                attributes = value.decode("latin-1")
        wire = "kiln.wire" in scope  # signed and checked by the AWS wire: answer as sagemaker-runtime
        if length > MAX_PAYLOAD_BYTES:
            await read_body(receive, 0)  # read it all, so the client, still sending, sees the answer
            await _answer(send, *_too_large(length), wire=wire)
            return
        received = await read_body(receive, MAX_PAYLOAD_BYTES)
        if received is None:
            return  # the client went away
        body, size, _ = received
        if size > MAX_PAYLOAD_BYTES:
            await _answer(send, *_too_large(size), wire=wire)
            return
        status, reply_type, reply, variant, outcome = await self._invoke(
            name, target, content_type, accept, attributes, body, metrics is not None
        )
        error_type: bytes | None = None
        if wire and status >= 400:
            status, reply_type, reply, error_type = runtime_error(status, reply)
        headers = [(b"content-type", reply_type), (b"content-length", str(len(reply)).encode())]
        if error_type is not None:
            headers.append((b"x-amzn-errortype", error_type))
        if variant:
            headers.append((b"x-amzn-invoked-production-variant", variant.encode("latin-1")))
        if attributes and status < 300:
            headers.append((b"x-amzn-sagemaker-custom-attributes", attributes.encode("latin-1")))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": reply})
        if metrics is not None and outcome is not None:
            model_status, model_seconds, instances = outcome
            metrics.record(
                name,
                variant,
                instances,
                model_status,
                None if model_seconds is None else model_seconds * 1e6,
                (time.perf_counter() - arrived) * 1e6,
            )

    async def _invoke(
        self,
        name: str,
        target: str,
        content_type: str,
        accept: str,
        attributes: str,
        body: bytes,
        timed: bool,
    ) -> tuple[int, bytes, bytes, str, _Outcome]:
        routes = self._routes.get(name)
        if routes is None or not routes.accepts_invocations():
            known = routes.status if routes is not None else self.known_endpoint(name)
            if known is None:
                code, payload = _error(
                    NotFound,
                    f"Endpoint {name} not found; `kiln endpoints list` shows the endpoints that exist.",
                )
            else:
                code, payload = _error(
                    Conflict,
                    f"Endpoint {name} is {known}, not InService; "
                    f"see `kiln endpoints describe {name}` and retry once it is InService.",
                )
            return code, _JSON, payload, "", None
        variant = self._pick_variant(routes, target)
        if isinstance(variant, tuple):
            return variant[0], _JSON, variant[1], "", None
        instances = len(variant.instances)
        while True:
            link = self._pick_instance(variant)
            if link is None:
                code, payload = _error(
                    ServerUnavailable, f"Variant {variant.name} has no instance in service right now."
                )
                return code, _JSON, payload, variant.name, (503, None, instances)
            sent = time.perf_counter() if timed else 0.0
            try:
                status, reply_type, reply = await link.invoke(
                    content_type or "application/json", accept, attributes, body
                )
                break
            except InstanceUnreachable:
                self._mark_dead(link.instance_id)  # never sent: another instance takes the request
            except InstanceGone as e:
                self._mark_dead(link.instance_id)
                code, payload = _error(
                    ServerUnavailable, f"{e}; the request was not answered, send it again."
                )
                return code, _JSON, payload, variant.name, (503, None, instances)
        outcome = (status, time.perf_counter() - sent if timed else None, instances)
        if status >= 500:
            message = _message_of(reply)
            code, payload = _error(
                ModelError,
                f'Received server error ({status}) from model with message "{message}".',
                ErrorCode="ModelError",
                OriginalStatusCode=status,
                OriginalMessage=message,
            )
            return code, _JSON, payload, variant.name, outcome
        if status >= 400:  # the instance refused the request: answer in the API's error shape
            code, payload = _error(
                error_for_status(status), _message_of(reply), status=status, OriginalStatusCode=status
            )
            return code, _JSON, payload, variant.name, outcome
        return status, reply_type.encode("latin-1"), reply, variant.name, outcome

    def _pick_variant(self, routes: EndpointRoutes, target: str) -> VariantRoute | tuple[int, bytes]:
        if target:
            for variant in routes.variants:
                if variant.name == target:
                    if not variant.instances:
                        return _error(
                            ServerUnavailable,
                            f"Variant {target} has no instance in service right now.",
                        )
                    return variant
            names = ", ".join(v.name for v in routes.variants)
            return _error(
                ValidationError,
                f"Endpoint {routes.name} has no variant {target!r}; its variants are {names}.",
            )
        live = [v for v in routes.variants if v.instances and v.weight > 0]
        if not live:
            return _error(ServerUnavailable, f"Endpoint {routes.name} has no instance in service right now.")
        if len(live) == 1:
            return live[0]
        pick = self._random.random() * sum(v.weight for v in live)
        for variant in live:
            pick -= variant.weight
            if pick < 0:
                return variant
        return live[-1]

    def _mark_dead(self, instance_id: str) -> None:
        self._dead = self._dead | {instance_id}
        self.forget_instance(instance_id)

    def _pick_instance(self, variant: VariantRoute) -> InstanceLink | None:
        best: InstanceLink | None = None
        for instance_id, address in variant.instances:
            if instance_id in self._dead:
                continue
            link = self._links.get(instance_id)
            if link is None:
                secret = self.link_secret(instance_id) if address.startswith(TCP_SCHEME) else None
                link = self._links[instance_id] = InstanceLink(instance_id, address, secret)
            if best is None or link.in_flight < best.in_flight:
                best = link
        return best


def _message_of(reply: bytes) -> str:
    try:
        decoded = json.loads(reply)
        return (
            str(decoded.get("error") or decoded.get("message") or decoded)
            if isinstance(decoded, dict)
            else str(decoded)
        )
    except ValueError:
        return reply[:1024].decode("utf-8", errors="replace")


def _too_large(size: int) -> tuple[int, bytes]:
    return _error(
        PayloadTooLarge,
        f"The request body is {size:,} bytes, over the 6 MB (6,291,456 bytes) limit of InvokeEndpoint; "
        "send fewer records per request.",
    )


async def _answer(send: Send, status: int, body: bytes, *, wire: bool = False) -> None:
    headers = [(b"content-type", _JSON)]
    if wire:
        status, _, body, error_type = runtime_error(status, body)
        headers.append((b"x-amzn-errortype", error_type))
    headers.append((b"content-length", str(len(body)).encode()))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
