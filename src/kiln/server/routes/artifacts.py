"""/api/v1/artifacts: upload, list and download objects of the artifact store."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from kiln.artifacts import ArtifactStore
from kiln.errors import ValidationError
from kiln.server.deps import Store

router = APIRouter(prefix="/artifacts", tags=["artifacts"])

SPOOL_BYTES = 8 << 20  # uploads smaller than this stay in memory on their way to the store
DOWNLOAD_CHUNK = 1 << 20


def _inside_store(store: ArtifactStore, uri: str) -> str:
    """Only objects the store's confinement rule allows: the API is no window onto the server's disk."""
    store.resolve_uri(uri)
    return uri.strip()


@router.get("/default-bucket")
def default_bucket(store: Store) -> dict[str, str]:
    return {"Bucket": store.default_bucket(), "Uri": store.bucket_uri(), "Root": store.root_url}


@router.put("", status_code=201)
async def upload(request: Request, store: Store, uri: str = Query(...)) -> dict[str, Any]:
    target = _inside_store(store, uri)
    with tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES) as spool:
        size = 0
        async for chunk in request.stream():
            spool.write(chunk)
            size += len(chunk)
        spool.seek(0)
        await run_in_threadpool(store.put_stream, spool, target)
    return {"Uri": target, "Size": size}


@router.get("")
def list_artifacts(store: Store, uri: str = Query(...), recursive: bool = False) -> dict[str, Any]:
    target = _inside_store(store, uri)
    entries = store.list_objects(target, recursive=recursive)
    return {"Artifacts": [{"Uri": e.uri, "Size": e.size, "IsFolder": e.is_dir} for e in entries]}


@router.get("/content")
def download(store: Store, uri: str = Query(...)) -> StreamingResponse:
    target = _inside_store(store, uri)
    if not store.exists(target):
        store.list_objects(target)  # raises NotFound with the store's wording
    if store.is_dir(target):
        # Refused now: once the stream has started, an error can only break the connection.
        raise ValidationError(f"{target!r} is a folder, not an object; list it with `kiln artifacts ls`")

    def chunks() -> Iterator[bytes]:
        with store.open(target) as stream:
            while block := stream.read(DOWNLOAD_CHUNK):
                yield block

    name = Path(target).name or "artifact"
    return StreamingResponse(
        chunks(), media_type="application/octet-stream", headers={"Content-Disposition": _attachment(name)}
    )


def _attachment(name: str) -> str:
    """RFC 6266: an ASCII ``filename`` and the exact UTF-8 ``filename*``. Headers are latin-1, so an
    object called e.g. 数据.csv put verbatim into the header made every download of it fail."""
    fallback = "".join(c if " " <= c <= "~" and c not in '"\\' else "_" for c in name)
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(name, safe='')}"
