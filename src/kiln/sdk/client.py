"""The SDK's HTTP client. Every call to a Kiln server goes through ``KilnClient``.

The httpx transport is injectable, so tests drive the in-process FastAPI app through
``httpx.ASGITransport``-style transports, and error answers are rebuilt into the same Kiln exception
class the server raised.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import IO, Any

import httpx

from kiln.errors import InternalError, KilnError, ServerUnavailable, error_class_named

__all__ = ["KilnClient"]

DEFAULT_TIMEOUT = httpx.Timeout(60.0, connect=10.0)
FOLLOW_TIMEOUT = httpx.Timeout(None, connect=10.0)  # a followed log may be silent for hours


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
    def __init__(
        self,
        base_url: str,
        *,
        token: str | None = None,
        transport: httpx.BaseTransport | None = None,
        timeout: httpx.Timeout = DEFAULT_TIMEOUT,
    ) -> None:
        self.base_url = base_url.rstrip("/")
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

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            response = self._http.request(method, f"/api/v1{path}", **kwargs)
        except httpx.TransportError as e:
            raise ServerUnavailable(
                f"cannot reach the Kiln server at {self.base_url}: {e}; start one with `kiln server start` "
                "or check KILN_URL"
            ) from e
        _raise_for_answer(response)
        return response

    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        return self.request(method, path, **kwargs).json()

    def stream_json_lines(self, path: str, params: dict[str, Any]) -> Iterator[dict[str, Any]]:
        try:
            with self._http.stream(
                "GET", f"/api/v1{path}", params=params, timeout=FOLLOW_TIMEOUT
            ) as response:
                if response.status_code >= 400:
                    response.read()
                    _raise_for_answer(response)
                for line in response.iter_lines():
                    if line.strip():
                        yield json.loads(line)
        except httpx.TransportError as e:
            raise ServerUnavailable(f"lost the connection to the Kiln server at {self.base_url}: {e}") from e

    # -- health ---------------------------------------------------------------------------------------

    def health(self) -> dict[str, Any]:
        result: dict[str, Any] = self.call("GET", "/health")
        return result

    # -- training jobs --------------------------------------------------------------------------------

    def create_training_job(self, request: dict[str, Any]) -> dict[str, Any]:
        result: dict[str, Any] = self.call("POST", "/training-jobs", json=request)
        return result

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
        result: dict[str, Any] = self.call("POST", "/models", json=request)
        return result

    def describe_model(self, name: str) -> dict[str, Any]:
        result: dict[str, Any] = self.call("GET", f"/models/{name}")
        return result

    def list_models(self) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self.call("GET", "/models")["Models"]
        return result

    def delete_model(self, name: str) -> None:
        self.request("DELETE", f"/models/{name}")

    def create_endpoint_config(self, request: dict[str, Any]) -> dict[str, Any]:
        result: dict[str, Any] = self.call("POST", "/endpoint-configs", json=request)
        return result

    def describe_endpoint_config(self, name: str) -> dict[str, Any]:
        result: dict[str, Any] = self.call("GET", f"/endpoint-configs/{name}")
        return result

    def delete_endpoint_config(self, name: str) -> None:
        self.request("DELETE", f"/endpoint-configs/{name}")

    def create_endpoint(self, name: str, config_name: str) -> dict[str, Any]:
        body = {"EndpointName": name, "EndpointConfigName": config_name}
        result: dict[str, Any] = self.call("POST", "/endpoints", json=body)
        return result

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
        try:
            response = self._http.post(f"/endpoints/{name}/invocations", content=body, headers=headers)
        except httpx.TransportError as e:
            raise ServerUnavailable(f"cannot reach the Kiln server at {self.base_url}: {e}") from e
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
