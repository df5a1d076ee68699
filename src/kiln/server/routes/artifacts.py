"""/api/v1/artifacts: upload, list and download objects of the artifact store."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

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
    """Only objects under the store's root are served: the API is no window onto the server's disk."""
    cleaned = uri.strip()
    if ".." in cleaned.split("/"):
        raise ValidationError(f"artifact URI {uri!r} may not contain '..'")
    if store.scheme == "file" and not cleaned.startswith(store.root_url + "/") and cleaned != store.root_url:
        raise ValidationError(
            f"artifact URI {uri!r} is outside this server's artifact store {store.root_url!r}"
        )
    return cleaned


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

    def chunks() -> Iterator[bytes]:
        with store.open(target) as stream:
            while block := stream.read(DOWNLOAD_CHUNK):
                yield block

    name = Path(target).name or "artifact"
    return StreamingResponse(
        chunks(),
        media_type="application/octet-stream",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
