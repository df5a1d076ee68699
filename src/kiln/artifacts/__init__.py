"""Artifact storage over fsspec: a local folder by default, ``s3://`` by configuration."""

from kiln.artifacts.store import TEMP_PREFIX, ArtifactInfo, ArtifactStore, local_path_of

__all__ = ["TEMP_PREFIX", "ArtifactInfo", "ArtifactStore", "local_path_of", "resolve_store"]


def resolve_store(url: str) -> ArtifactStore:
    """The store for ``url``: a ``file://`` folder, a plain path, or ``s3://bucket[/prefix]``."""
    from pathlib import Path

    if "://" not in url:
        url = Path(url).expanduser().resolve().as_uri()
    return ArtifactStore(url)
