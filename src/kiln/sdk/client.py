"""The SDK's HTTP client. Every call to a Kiln server goes through ``KilnClient``.

The httpx transport is injectable, so tests drive the in-process FastAPI app through
``httpx.ASGITransport``-style transports, and error answers are rebuilt into the same Kiln exception
class the server raised.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator
from typing import IO, Any

import httpx

from kiln.errors import InternalError, KilnError, NotFound, ServerUnavailable, error_class_named
from kiln.sdk.reconnect import (
    FIRST_CONTACT_SECONDS,
    MaybeCarriedOut,
    RetryClock,
    StreamBroken,
    is_unsent,
    may_repeat,
)

__all__ = ["KilnClient"]

log = logging.getLogger("kiln.sdk")

DEFAULT_TIMEOUT = httpx.Timeout(60.0, connect=10.0)
FOLLOW_TIMEOUT = httpx.Timeout(None, connect=10.0)  # a followed log may be silent for hours


def _rewinder(content: Any) -> Callable[[], bool] | None:
    """How to send ``content`` again from its start: None for bytes (always possible), a function that
    seeks back for a seekable stream, one that says it cannot for any other stream."""
    if content is None or isinstance(content, (bytes, str)):
        return None
    try:
        start = content.tell()
    except (AttributeError, OSError):
        return lambda: False

    def rewind() -> bool:
        content.seek(start)
        return True

    return rewind


def _raise_for_answer(response: httpx.Response) -> None:
    if response.status_code < 400:
        return
    try:
        body = response.json()
        cls = error_class_named(str(body.get("error", "")))
        message = str(body.get("message") or body)
    except (ValueError, AttributeError):
        cls = InternalError
        message = response.text[:500] or response.reason_phrase
    if cls is InternalError and response.status_code < 500:
        cls = error_class_named(
            {404: "NotFound", 401: "Unauthorized", 409: "Conflict"}.get(response.status_code, "UserError")
        )
    raise cls(message)


class KilnClient:
    """One server's HTTP API. Calls outlive a restart of the server (see ``kiln.sdk.reconnect``).

    With ``retry_seconds`` > 0, a call that cannot reach the server is retried with backoff for that
    long, asking ``rediscover(current_url)`` each time for the address the server came back on; reads
    are repeated, creates are resolved by name, invocations are repeated only if they never left.
    """

    def __init__(
        self,
        base_url: str,
        *,
        token: str | None = None,
        transport: httpx.BaseTransport | None = None,
        timeout: httpx.Timeout = DEFAULT_TIMEOUT,
        retry_seconds: float = 0.0,
        rediscover: Callable[[str], str | None] | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.retry_seconds = retry_seconds
        self._rediscover = rediscover
        self._reached = False  # whether the server has answered this client yet
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._http = httpx.Client(
            base_url=self.base_url, headers=headers, transport=transport, timeout=timeout
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> KilnClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- plumbing -------------------------------------------------------------------------------------

    def _follow_server(self) -> None:
        """Point at the address the server now has, if it moved (another port after a restart)."""
        if self._rediscover is None:
            return
        url = self._rediscover(self.base_url)
        if url and url.rstrip("/") != self.base_url:
            log.warning("the Kiln server moved from %s to %s; following it", self.base_url, url)
            self.base_url = url.rstrip("/")
            self._http.base_url = httpx.URL(self.base_url)

    def _send(
        self, method: str, what: str, send: Callable[[], httpx.Response], rewind: Callable[[], bool] | None
    ) -> tuple[httpx.Response, bool]:
        """``send()`` until it gets an answer or may not be repeated; (answer, whether it was repeated
        after an attempt that may have reached the server)."""
        clock: RetryClock | None = None
        repeated_after_sent = False
        while True:
            try:
                answer = send()
                self._reached = True
                return answer, repeated_after_sent
            except httpx.TransportError as e:
                error = e
            if clock is None:
                clock = RetryClock(self._retry_window())
            unsent = is_unsent(error)
            if not unsent and not (may_repeat(method) and (rewind is None or rewind())):
                raise MaybeCarriedOut(
                    f"the connection to the Kiln server at {self.base_url} broke during {what} "
                    f"({error}); the server may or may not have carried it out: check (describe, list) "
                    "before repeating it"
                ) from error
            if not clock.wait(what, self.base_url, error):
                waited = f" for {clock.seconds:.0f} s" if clock.seconds else ""
                raise ServerUnavailable(
                    f"cannot reach the Kiln server at {self.base_url}{waited}: {error}; start one with "
                    "`kiln server start` or check KILN_URL"
                ) from error
            repeated_after_sent = repeated_after_sent or not unsent
            self._follow_server()

    def _retry_window(self) -> float:
        """How long a call that cannot reach the server keeps trying: the whole ``retry_seconds`` to
        ride out a restart of a server this client has reached (or that ``KILN_HOME`` records), a
        few seconds for one that never answered."""
        if self._reached:
            return self.retry_seconds
        if self._rediscover is not None and self._rediscover(self.base_url) is not None:
            return self.retry_seconds
        return min(self.retry_seconds, FIRST_CONTACT_SECONDS)

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        rewind = _rewinder(kwargs.get("content"))
        response, repeated = self._send(
            method,
            f"{method} {path}",
            lambda: self._http.request(method, f"/api/v1{path}", **kwargs),
            rewind,
        )
        if repeated and method == "DELETE" and response.status_code == 404:
            return response  # the attempt whose answer was lost deleted it
        _raise_for_answer(response)
        return response

    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        return self.request(method, path, **kwargs).json()

    def create(self, path: str, body: dict[str, Any], resource_path: str) -> dict[str, Any]:
        """POST a create; if its answer was lost, the resource at ``resource_path`` is the answer.

        A create that may or may not have reached the server is never sent twice blindly: once the
        server answers again, an existing resource of that name is returned, and only a missing one
        is created again.
        """
        try:
            result: dict[str, Any] = self.call("POST", path, json=body)
            return result
        except MaybeCarriedOut:
            try:
                found: dict[str, Any] = self.call("GET", resource_path)
                return found
            except NotFound:
                result = self.call("POST", path, json=body)
                return result

    def stream_json_lines(self, path: str, params: dict[str, Any]) -> Iterator[dict[str, Any]]:
        """JSON lines as the server sends them; ``ServerUnavailable`` when the stream breaks."""

        def open_stream() -> httpx.Response:
            request = self._http.build_request("GET", f"/api/v1{path}", params=params, timeout=FOLLOW_TIMEOUT)
            return self._http.send(request, stream=True)

        response, _ = self._send("GET", f"GET {path}", open_stream, None)
        try:
            if response.status_code >= 400:
                response.read()
                _raise_for_answer(response)
            for line in response.iter_lines():
                if line.strip():
                    yield json.loads(line)
        except httpx.TransportError as e:
            raise StreamBroken(f"lost the connection to the Kiln server at {self.base_url}: {e}") from e
        finally:
            response.close()

    # -- health ---------------------------------------------------------------------------------------

    def health(self) -> dict[str, Any]:
        result: dict[str, Any] = self.call("GET", "/health")
        return result

    # -- training jobs --------------------------------------------------------------------------------

    def create_training_job(self, request: dict[str, Any]) -> dict[str, Any]:
        name = request.get("TrainingJobName", "")
        return self.create("/training-jobs", request, f"/training-jobs/{name}")

    def describe_training_job(self, name: str) -> dict[str, Any]:
        result: dict[str, Any] = self.call("GET", f"/training-jobs/{name}")
        return result

    def list_training_jobs(self, **filters: Any) -> list[dict[str, Any]]:
        params = {k: v for k, v in filters.items() if v is not None}
        result: list[dict[str, Any]] = self.call("GET", "/training-jobs", params=params)[
            "TrainingJobSummaries"
        ]
        return result

    def stop_training_job(self, name: str) -> dict[str, Any]:
        result: dict[str, Any] = self.call("POST", f"/training-jobs/{name}/stop")
        return result

    def training_job_logs(self, name: str, after: int = 0, limit: int = 1000) -> dict[str, Any]:
        result: dict[str, Any] = self.call(
            "GET", f"/training-jobs/{name}/logs", params={"after": after, "limit": limit}
        )
        return result

    def follow_training_job(self, name: str, after: int = 0) -> Iterator[dict[str, Any]]:
        """Log lines and status changes as they happen, ending with an ``end`` event."""
        return self.stream_json_lines(f"/training-jobs/{name}/logs", {"after": after, "follow": "true"})

    def training_job_metrics(self, name: str) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self.call("GET", f"/training-jobs/{name}/metrics")["Metrics"]
        return result

    # -- artifacts ------------------------------------------------------------------------------------

    # -- processing jobs --------------------------------------------------------------------------------

    def create_processing_job(self, request: dict[str, Any]) -> dict[str, Any]:
        result: dict[str, Any] = self.call("POST", "/processing-jobs", json=request)
        return result

    def describe_processing_job(self, name: str) -> dict[str, Any]:
        result: dict[str, Any] = self.call("GET", f"/processing-jobs/{name}")
        return result

    def list_processing_jobs(self, **filters: Any) -> list[dict[str, Any]]:
        params = {k: v for k, v in filters.items() if v is not None}
        result: list[dict[str, Any]] = self.call("GET", "/processing-jobs", params=params)[
            "ProcessingJobSummaries"
        ]
        return result

    def stop_processing_job(self, name: str) -> dict[str, Any]:
        result: dict[str, Any] = self.call("POST", f"/processing-jobs/{name}/stop")
        return result

    def processing_job_logs(self, name: str, after: int = 0, limit: int = 1000) -> dict[str, Any]:
        result: dict[str, Any] = self.call(
            "GET", f"/processing-jobs/{name}/logs", params={"after": after, "limit": limit}
        )
        return result

    def follow_processing_job(self, name: str, after: int = 0) -> Iterator[dict[str, Any]]:
        """Log lines and status changes as they happen, ending with an ``end`` event."""
        return self.stream_json_lines(f"/processing-jobs/{name}/logs", {"after": after, "follow": "true"})

    def default_bucket(self) -> dict[str, str]:
        result: dict[str, str] = self.call("GET", "/artifacts/default-bucket")
        return result

    def upload(self, source: IO[bytes] | bytes, uri: str) -> str:
        answer = self.call("PUT", "/artifacts", params={"uri": uri}, content=source)
        return str(answer["Uri"])

    def list_artifacts(self, uri: str, recursive: bool = False) -> list[dict[str, Any]]:
        params = {"uri": uri, "recursive": str(recursive).lower()}
        result: list[dict[str, Any]] = self.call("GET", "/artifacts", params=params)["Artifacts"]
        return result

    def download(self, uri: str) -> bytes:
        return self.request("GET", "/artifacts/content", params={"uri": uri}).content

    # -- hosting ---------------------------------------------------------------------------------------

    def create_model(self, request: dict[str, Any]) -> dict[str, Any]:
        return self.create("/models", request, f"/models/{request.get('ModelName', '')}")

    def describe_model(self, name: str) -> dict[str, Any]:
        result: dict[str, Any] = self.call("GET", f"/models/{name}")
        return result

    def list_models(self) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self.call("GET", "/models")["Models"]
        return result

    def delete_model(self, name: str) -> None:
        self.request("DELETE", f"/models/{name}")

    def create_endpoint_config(self, request: dict[str, Any]) -> dict[str, Any]:
        name = request.get("EndpointConfigName", "")
        return self.create("/endpoint-configs", request, f"/endpoint-configs/{name}")

    def describe_endpoint_config(self, name: str) -> dict[str, Any]:
        result: dict[str, Any] = self.call("GET", f"/endpoint-configs/{name}")
        return result

    def delete_endpoint_config(self, name: str) -> None:
        self.request("DELETE", f"/endpoint-configs/{name}")

    def create_endpoint(self, name: str, config_name: str) -> dict[str, Any]:
        body = {"EndpointName": name, "EndpointConfigName": config_name}
        return self.create("/endpoints", body, f"/endpoints/{name}")

    def describe_endpoint(self, name: str) -> dict[str, Any]:
        result: dict[str, Any] = self.call("GET", f"/endpoints/{name}")
        return result

    def list_endpoints(self, status: str | None = None) -> list[dict[str, Any]]:
        params = {"status": status} if status else {}
        result: list[dict[str, Any]] = self.call("GET", "/endpoints", params=params)["Endpoints"]
        return result

    def update_endpoint(self, name: str, config_name: str) -> dict[str, Any]:
        result: dict[str, Any] = self.call(
            "POST", f"/endpoints/{name}/update", json={"EndpointConfigName": config_name}
        )
        return result

    def update_endpoint_weights_and_capacities(
        self, name: str, desired: list[dict[str, Any]]
    ) -> dict[str, Any]:
        body = {"DesiredWeightsAndCapacities": desired}
        result: dict[str, Any] = self.call("POST", f"/endpoints/{name}/weights-and-capacities", json=body)
        return result

    def delete_endpoint(self, name: str) -> None:
        self.request("DELETE", f"/endpoints/{name}")

    def endpoint_logs(self, name: str, tail: int = 200) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self.call("GET", f"/endpoints/{name}/logs", params={"tail": tail})[
            "Instances"
        ]
        return result

    def endpoint_metrics(
        self,
        name: str,
        period: int = 60,
        start: str | None = None,
        end: str | None = None,
        variant: str | None = None,
    ) -> dict[str, Any]:
        """CloudWatch's endpoint metrics per variant (``start``/``end``: ISO 8601)."""
        params = {"period": period, "start": start, "end": end, "variant": variant}
        result: dict[str, Any] = self.call(
            "GET", f"/endpoints/{name}/metrics", params={k: v for k, v in params.items() if v is not None}
        )
        return result

    def invoke_endpoint(self, name: str, body: bytes, headers: dict[str, str]) -> httpx.Response:
        """SageMaker's InvokeEndpoint: ``POST /endpoints/{name}/invocations`` (not under /api/v1)."""
        # Sent again only if it never left: a request that may have reached the model may have run.
        response, _ = self._send(
            "POST",
            f"the invocation of endpoint {name!r}",
            lambda: self._http.post(f"/endpoints/{name}/invocations", content=body, headers=headers),
            None,
        )
        _raise_for_answer(response)
        return response

    # -- transform jobs -------------------------------------------------------------------------------

    def create_transform_job(self, request: dict[str, Any]) -> dict[str, Any]:
        result: dict[str, Any] = self.call("POST", "/transform-jobs", json=request)
        return result

    def describe_transform_job(self, name: str) -> dict[str, Any]:
        result: dict[str, Any] = self.call("GET", f"/transform-jobs/{name}")
        return result

    def list_transform_jobs(self, **filters: Any) -> list[dict[str, Any]]:
        params = {k: v for k, v in filters.items() if v is not None}
        answer = self.call("GET", "/transform-jobs", params=params)
        result: list[dict[str, Any]] = answer["TransformJobSummaries"]
        return result

    def stop_transform_job(self, name: str) -> dict[str, Any]:
        result: dict[str, Any] = self.call("POST", f"/transform-jobs/{name}/stop")
        return result

    def transform_job_logs(self, name: str, tail: int = 1000) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self.call(
            "GET", f"/transform-jobs/{name}/logs", params={"tail": tail}
        )["Streams"]
        return result


def describe_error(error: KilnError) -> str:
    return f"{type(error).__name__}: {error.message}"
