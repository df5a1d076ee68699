"""The console's own CSS and JavaScript, served from the package (no CDN, no third-party code)."""

from __future__ import annotations

from importlib import resources

from fastapi import APIRouter
from fastapi.responses import Response

from kiln.errors import NotFound

__all__ = ["router"]

router = APIRouter()

MEDIA_TYPES = {".css": "text/css; charset=utf-8", ".js": "text/javascript; charset=utf-8"}
CACHE_SECONDS = 300  # short: a server upgrade's new files reach open consoles within minutes


@router.get("/static/{name}")
def static_file(name: str) -> Response:
    suffix = name[name.rfind(".") :] if "." in name else ""
    folder = resources.files("kiln.server.console") / "static"
    if suffix not in MEDIA_TYPES or "/" in name or name.startswith("."):
        raise NotFound(f"the console has no static file {name!r}")
    target = folder / name
    if not target.is_file():
        raise NotFound(f"the console has no static file {name!r}")
    return Response(
        target.read_bytes(),
        media_type=MEDIA_TYPES[suffix],
        headers={"Cache-Control": f"max-age={CACHE_SECONDS}"},
    )
