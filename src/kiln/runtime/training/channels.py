"""File-mode channels: each channel's objects are copied into ``input/data/<channel>`` first."""

from __future__ import annotations

import os
import posixpath
from pathlib import Path
from typing import Any

from kiln.artifacts import ArtifactStore, local_path_of
from kiln.errors import NotFound, ValidationError
from kiln.runtime.training.user_code import UserCodeError

__all__ = ["download_channels"]


def download_channels(
    store: ArtifactStore, channels: list[dict[str, Any]], data_dir: Path, host_index: int, host_count: int
) -> dict[str, int]:
    """Download every channel; returns the number of files each received.

    ``ShardedByS3Key`` gives each host a disjoint share of the channel's objects (sorted by key, dealt
    round-robin), ``FullyReplicated`` gives every host all of them, as SageMaker does.
    """
    counts: dict[str, int] = {}
    for channel in channels:
        name = channel["ChannelName"]
        source = channel["DataSource"]["S3DataSource"]
        uri = source["S3Uri"].rstrip("/")
        target = data_dir / name
        target.mkdir(parents=True, exist_ok=True)
        entries = [e for e in store.list_objects(uri, recursive=True) if not e.is_dir]
        if source.get("S3DataDistributionType") == "ShardedByS3Key" and host_count > 1:
            entries = sorted(entries, key=lambda e: e.uri)[host_index::host_count]
        for entry in entries:
            single_object = entry.uri.rstrip("/") == uri
            relative = posixpath.basename(uri) if single_object else entry.uri[len(uri) + 1 :]
            _download_entry(store, name, entry.uri, relative, target)
        counts[name] = len(entries)
    return counts


def _download_entry(store: ArtifactStore, channel: str, uri: str, relative: str, target: Path) -> None:
    """One object of a channel; an entry that cannot be read is the user's data problem, named."""
    local = local_path_of(store.resolve_uri(uri, anywhere=True)) if store.scheme == "file" else None
    if local is not None and local.is_symlink() and not local.exists():
        raise UserCodeError(
            f"ClientError: channel {channel!r}: entry {relative!r} is a symbolic link to "
            f"{os.readlink(local)!r}, which does not exist; fix or remove the link and upload again"
        )
    try:
        # Each entry passes the confinement rule too: a symlink in a channel folder pointing at the
        # server's own files is refused like a URI naming them.
        store.resolve_uri(uri, field=f"channel {channel!r}: entry")
        store.get_file(uri, target / relative)
    except (NotFound, ValidationError) as e:
        why = (
            "it is a dangling symbolic link or vanished while reading"
            if isinstance(e, NotFound)
            else e.message
        )
        raise UserCodeError(f"ClientError: channel {channel!r}: cannot read entry {relative!r}: {why}") from e
