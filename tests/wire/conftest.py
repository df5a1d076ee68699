"""S3 clients (boto3, unmodified) aimed at an S3 endpoint on loopback, path-style and virtual-hosted."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
import uvicorn
from botocore.config import Config
from starlette.requests import Request

from kiln.artifacts import ArtifactStore
from kiln.server.wire.s3 import handle_s3


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


@pytest.fixture(scope="module")
def s3_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Endpoint]:
    root = tmp_path_factory.mktemp("store")
    store = ArtifactStore(root.as_uri())

    async def app(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        response = await handle_s3(Request(scope, receive), store)
        await response(scope, receive, send)

    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "the S3 test server did not start"
        time.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    yield S3Endpoint(f"http://127.0.0.1:{port}", port, root)
    server.should_exit = True
    thread.join(10)


@pytest.fixture(scope="module")
def s3(s3_endpoint: S3Endpoint) -> Any:
    return s3_endpoint.client()
