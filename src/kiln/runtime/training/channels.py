"""File-mode channels: each channel's objects are copied into ``input/data/<channel>`` first."""

from __future__ import annotations

import posixpath
from pathlib import Path
from typing import Any

from kiln.artifacts import ArtifactStore

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
            store.get_file(entry.uri, target / relative)
        counts[name] = len(entries)
    return counts
