"""``Session``: the SDK's handle on a Kiln server (SageMaker's ``sagemaker.Session``)."""

from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import Any

import httpx

from kiln.config import load_settings
from kiln.errors import ValidationError
from kiln.sdk.client import KilnClient
from kiln.sdk.discovery import ensure_local_server, rediscover_server
from kiln.sdk.job_logs import print_job_logs, wait_for_job
from kiln.sdk.waiters import WAITERS

__all__ = ["LOCAL_ROLE_ARN", "Session", "get_execution_role"]

# Kiln has no IAM: a role is accepted wherever SageMaker takes one, stored, and never checked.
LOCAL_ROLE_ARN = "arn:aws:iam::000000000000:role/KilnLocalRole"


def get_execution_role(sagemaker_session: Session | None = None, use_default: bool = False) -> str:
    """A role ARN for notebook code that asks for one (``sagemaker.get_execution_role()``)."""
    return LOCAL_ROLE_ARN


class Session:
    """Talks to ``url`` (or ``KILN_URL``), else to the embedded local server, started on first use."""

    def __init__(
        self,
        url: str | None = None,
        *,
        token: str | None = None,
        transport: httpx.BaseTransport | None = None,
        default_bucket: str | None = None,
        **_ignored: Any,  # boto_session, sagemaker_client, …: accepted for compatibility
    ) -> None:
        self._url = url
        self._token = token
        self._transport = transport
        self._bucket = default_bucket
        self._client: KilnClient | None = None

    @property
    def client(self) -> KilnClient:
        if self._client is None:
            settings = load_settings()
            url = self._url or settings.url
            if url is None:
                # An injected transport (tests, in-process apps) needs no real server.
                url = "http://kiln.invalid" if self._transport is not None else ensure_local_server(settings)
            # A server found through server.json is followed wherever it restarts; a named URL is
            # followed only to where server.json says that very server moved.
            named = (self._url or settings.url) is not None
            self._client = KilnClient(
                url,
                token=self._token or settings.api_token,
                transport=self._transport,
                retry_seconds=settings.client_retry_seconds,
                rediscover=functools.partial(rediscover_server, settings, follow_any=not named),
            )
        return self._client

    @property
    def url(self) -> str:
        return self.client.base_url

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    # -- storage --------------------------------------------------------------------------------------

    def default_bucket(self) -> str:
        if self._bucket is None:
            self._bucket = self.client.default_bucket()["Bucket"]
        return self._bucket

    def bucket_uri(self, bucket: str | None = None) -> str:
        answer = self.client.default_bucket()
        root, default = answer["Root"], answer["Bucket"]
        bucket = bucket or self._bucket or default
        if root.startswith("file://"):
            return f"{root}/{bucket}"
        return answer["Uri"] if bucket == default else f"{root.split('://', 1)[0]}://{bucket}"

    def upload_data(
        self,
        path: str | os.PathLike[str],
        bucket: str | None = None,
        key_prefix: str = "data",
        extra_args: dict[str, Any] | None = None,
        *,
        progress: Any = None,
    ) -> str:
        """Upload a file or a folder (recursively); returns the URI of what was uploaded.

        A file lands at ``<bucket>/<key_prefix>/<name>`` and its URI is returned; a folder's files keep
        their relative paths under ``<bucket>/<key_prefix>`` and the prefix URI is returned.
        """
        source = Path(path).expanduser()
        if not source.exists():
            raise ValidationError(f"upload_data: path {str(path)!r} does not exist")
        prefix = (
            f"{self.bucket_uri(bucket)}/{key_prefix.strip('/')}"
            if key_prefix.strip("/")
            else self.bucket_uri(bucket)
        )
        if source.is_file():
            return self.upload_file(source, f"{prefix}/{source.name}", progress)
        files = sorted(p for p in source.rglob("*") if p.is_file())
        if not files:
            raise ValidationError(f"upload_data: folder {str(path)!r} holds no files")
        for file in files:
            self.upload_file(file, f"{prefix}/{file.relative_to(source).as_posix()}", progress)
        return prefix

    def upload_file(self, local: Path, uri: str, progress: Any = None) -> str:
        with local.open("rb") as stream:
            if progress is None:
                return self.client.upload(stream, uri)
            return self.client.upload(_ProgressReader(stream, progress), uri)  # type: ignore[arg-type]

    def upload_bytes(self, data: bytes, uri: str) -> str:
        return self.client.upload(data, uri)

    def list_artifacts(self, uri: str, recursive: bool = False) -> list[dict[str, Any]]:
        return self.client.list_artifacts(uri, recursive)

    def read_artifact(self, uri: str) -> bytes:
        return self.client.download(uri)

    # -- training jobs --------------------------------------------------------------------------------

    def describe_training_job(self, name: str) -> dict[str, Any]:
        return self.client.describe_training_job(name)

    def stop_training_job(self, name: str) -> dict[str, Any]:
        return self.client.stop_training_job(name)

    def logs_for_job(self, job_name: str, wait: bool = False, poll: int = 10, log_type: str = "All") -> None:
        """Print a job's logs (SageMaker's name); with ``wait``, follow until the job ends (the server
        streams them, so ``poll`` has nothing to pace)."""
        print_job_logs(self.client, job_name, follow=wait)

    def delete_endpoint(self, endpoint_name: str) -> None:
        """Delete an endpoint (its configuration stays, as in SageMaker)."""
        self.client.delete_endpoint(endpoint_name)

    def delete_endpoint_config(self, endpoint_config_name: str) -> None:
        self.client.delete_endpoint_config(endpoint_config_name)

    def delete_model(self, model_name: str) -> None:
        self.client.delete_model(model_name)

    def wait_for_endpoint(
        self, endpoint: str, poll: float | None = None, live_logging: bool = False
    ) -> dict[str, Any]:
        """Block until the endpoint is InService, checking every ``poll`` seconds (default 0.2); raises
        if it Failed or is still not up after an hour. (``live_logging``: the endpoint's log is
        ``kiln endpoints logs``.)"""
        return WAITERS["EndpointInService"].wait(self.client, endpoint, delay=poll)

    def wait_for_job(self, job: str, poll: float | None = None) -> dict[str, Any]:
        """Block until the training job ends, checking every ``poll`` seconds (default 0.5)."""
        return wait_for_job(self.client, job, poll=poll)

    # -- processing jobs ------------------------------------------------------------------------------

    def describe_processing_job(self, job_name: str) -> dict[str, Any]:
        return self.client.describe_processing_job(job_name)

    def stop_processing_job(self, job_name: str) -> dict[str, Any]:
        return self.client.stop_processing_job(job_name)

    def wait_for_processing_job(self, job: str, poll: float | None = None) -> dict[str, Any]:
        """Block until the processing job ends (any ending), checking every ``poll`` seconds (0.5)."""
        return WAITERS["ProcessingJobEnded"].wait(self.client, job, delay=poll)


class _ProgressReader:
    """Wraps a file so each read advances a progress callback (the CLI's progress bar)."""

    def __init__(self, stream: Any, progress: Any) -> None:
        self._stream = stream
        self._progress = progress

    def read(self, size: int = -1) -> bytes:
        data: bytes = self._stream.read(size)
        self._progress(len(data))
        return data

    def __iter__(self) -> Any:
        while chunk := self.read(1 << 20):
            yield chunk
