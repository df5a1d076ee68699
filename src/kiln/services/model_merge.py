"""One model.tar.gz for a multi-host job: the hosts' model/ folders, merged (first host wins a clash)."""

from __future__ import annotations

import tarfile
import tempfile
from pathlib import Path

from kiln.artifacts import ArtifactStore
from kiln.runtime.training.outputs import host_model_part_uri

__all__ = ["merge_model_parts"]


def merge_model_parts(store: ArtifactStore, output_prefix: str, hosts: list[str]) -> str | None:
    """Fold the other hosts' parts into ``model.tar.gz``; returns its URI (None if no host saved one)."""
    final_uri = f"{output_prefix}/model.tar.gz"
    parts = [host_model_part_uri(output_prefix, h) for h in hosts[1:]]
    parts = [p for p in parts if store.exists(p)]
    if not parts:
        return final_uri if store.exists(final_uri) else None
    with tempfile.TemporaryDirectory(prefix="kiln-merge-") as tmp:
        folder = Path(tmp) / "model"
        folder.mkdir()
        for uri in [final_uri, *parts]:
            if not store.exists(uri):
                continue
            archive = store.get_file(uri, Path(tmp) / "part.tar.gz")
            with tarfile.open(archive, "r:gz") as tar:
                for member in tar.getmembers():
                    if not (folder / member.name).exists():
                        tar.extract(member, folder, filter="data")
        merged = Path(tmp) / "model.tar.gz"
        with tarfile.open(merged, "w:gz", compresslevel=1) as tar:
            for path in sorted(folder.rglob("*")):
                tar.add(path, arcname=path.relative_to(folder).as_posix(), recursive=False)
        store.put_file(merged, final_uri)
    for uri in parts:
        store.delete(uri)
    return final_uri
