"""Artifact storage over fsspec: a local folder by default, ``s3://`` by configuration."""

from pathlib import Path

from kiln.artifacts.store import TEMP_PREFIX, ArtifactInfo, ArtifactStore, local_path_of

__all__ = ["TEMP_PREFIX", "ArtifactInfo", "ArtifactStore", "local_path_of", "resolve_store"]


def resolve_store(url: str, allowed_roots: tuple[Path, ...] = ()) -> ArtifactStore:
    """The store for ``url``: a ``file://`` folder, a plain path, or ``s3://bucket[/prefix]``;
    ``allowed_roots`` are server folders requests may also name (``ArtifactStore.resolve_uri``)."""
    if "://" not in url:
        url = Path(url).expanduser().resolve().as_uri()
    return ArtifactStore(url, allowed_roots)
