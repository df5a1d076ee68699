"""S3 clients (boto3, unmodified) aimed at a real Kiln server on loopback, path-style and virtual-hosted.

Test modules import the fixtures by name (``from s3_support import s3_fixture``): a conftest.py
here would shadow tests/conftest.py for the modules that import from it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from wire_support import check_answer

from conftest import RunningServer


def check_s3_answer(http_response: Any, parsed: dict[str, Any], model: Any, **kwargs: Any) -> None:
    """The wire's shape check, except GetBucketLocation: botocore parses S3's empty us-east-1
    LocationConstraint (what AWS itself sends) to None, which its own validator then refuses."""
    if model.name != "GetBucketLocation":
        check_answer(http_response, parsed, model, **kwargs)


@dataclass
class S3Endpoint:
    url: str
    port: int
    store_root: Path

    def client(self, addressing_style: str = "path", **config: Any) -> Any:
        if addressing_style == "virtual":
            # <bucket>.localhost needs no DNS in browsers, but glibc does not resolve it: connect to
            # 127.0.0.1 and keep the Host header (and so the signature) botocore computed.
            client = boto3.client(
                "s3",
                endpoint_url=f"http://localhost:{self.port}",
                aws_access_key_id="x",
                aws_secret_access_key="y",
                region_name="us-east-1",
                config=Config(s3={"addressing_style": "virtual"}, **config),
            )
            client.meta.events.register("before-send.s3", self._to_loopback)
            client.meta.events.register("after-call", check_s3_answer)
            return client
        client = boto3.client(
            "s3",
            endpoint_url=self.url,
            aws_access_key_id="x",
            aws_secret_access_key="y",
            region_name="us-east-1",
            config=Config(s3={"addressing_style": addressing_style}, **config),
        )
        client.meta.events.register("after-call", check_s3_answer)  # answers match the output shapes
        return client

    def _to_loopback(self, request: Any, **_: Any) -> None:
        host = request.url.split("://", 1)[1].split("/", 1)[0]
        request.headers["Host"] = host
        request.url = request.url.replace(host, f"127.0.0.1:{self.port}", 1)


@pytest.fixture(scope="session", name="s3_endpoint")
def s3_endpoint_fixture(server: RunningServer) -> S3Endpoint:
    """The session's real Kiln server: boto3 finds S3 on Kiln's one port, as with AWS_ENDPOINT_URL."""
    port = urlsplit(server.url).port
    assert port is not None
    return S3Endpoint(server.url, port, server.home / "artifacts")


@pytest.fixture(scope="module", name="s3")
def s3_fixture(s3_endpoint: S3Endpoint) -> Any:
    return s3_endpoint.client()


def error_of(excinfo: pytest.ExceptionInfo[ClientError]) -> tuple[str, int]:
    """The S3 error code and HTTP status of a ClientError."""
    response = excinfo.value.response
    return response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"]
