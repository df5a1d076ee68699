"""S3 clients (boto3, unmodified) aimed at a real Kiln server on loopback, path-style and virtual-hosted.

A plugin of tests/conftest.py (``pytest_plugins``), not a conftest of its own: a second module named
``conftest`` would shadow the root one for every ``from conftest import``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import boto3
import pytest
from botocore.config import Config

from conftest import RunningServer


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
            return client
        return boto3.client(
            "s3",
            endpoint_url=self.url,
            aws_access_key_id="x",
            aws_secret_access_key="y",
            region_name="us-east-1",
            config=Config(s3={"addressing_style": addressing_style}, **config),
        )

    def _to_loopback(self, request: Any, **_: Any) -> None:
        host = request.url.split("://", 1)[1].split("/", 1)[0]
        request.headers["Host"] = host
        request.url = request.url.replace(host, f"127.0.0.1:{self.port}", 1)


@pytest.fixture(scope="session")
def s3_endpoint(server: RunningServer) -> S3Endpoint:
    """The session's real Kiln server: boto3 finds S3 on Kiln's one port, as with AWS_ENDPOINT_URL."""
    port = urlsplit(server.url).port
    assert port is not None
    return S3Endpoint(server.url, port, server.home / "artifacts")


@pytest.fixture(scope="module")
def s3(s3_endpoint: S3Endpoint) -> Any:
    return s3_endpoint.client()
