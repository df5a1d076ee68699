"""What every S3 operation receives, and the shapes of its answers."""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import ParamSpec, TypeVar

import anyio.to_thread
from starlette.datastructures import Headers, QueryParams
from starlette.requests import Request
from starlette.responses import Response

from kiln.server.wire.s3.multipart import MultipartStaging
from kiln.server.wire.s3.naming import check_key
from kiln.server.wire.s3.objects import BucketStore
from kiln.server.wire.s3.xmlcodec import Node, render_xml

__all__ = ["OWNER", "S3Request", "xml_response"]

P = ParamSpec("P")
T = TypeVar("T")

# Kiln is one account: every bucket and object has this owner (a canonical-ID-shaped constant).
OWNER: list[Node] = [("ID", "6b696c6e" * 8), ("DisplayName", "kiln")]


@dataclass(frozen=True)
class S3Request:
    request: Request
    objects: BucketStore
    staging: MultipartStaging
    bucket: str
    key: str

    @property
    def headers(self) -> Headers:
        return self.request.headers

    @property
    def query(self) -> QueryParams:
        return self.request.query_params

    def checked_key(self) -> str:
        return check_key(self.key)

    async def blocking(self, function: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """Run a store call (fsspec blocks) on a worker thread."""
        return await anyio.to_thread.run_sync(functools.partial(function, *args, **kwargs))


def xml_response(
    root: str, nodes: Sequence[Node], status: int = 200, headers: dict[str, str] | None = None
) -> Response:
    return Response(render_xml(root, nodes), status, headers, media_type="application/xml")
