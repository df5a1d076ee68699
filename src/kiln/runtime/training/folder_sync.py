"""Keeps a local folder mirrored into the artifact store while the script writes to it.

Used for checkpoints (both ways: restored before the script starts, uploaded while it runs) and for
TensorBoard event files (uploaded while it runs). A changed file is copied to a private snapshot and
uploaded only if it did not change while being copied and had been quiet for a moment before, so a
half-written checkpoint never reaches the store; uploads are atomic, so a reader never sees half of
one either. A file rewritten many times a second is still uploaded between two writes.
"""

from __future__ import annotations

import shutil
import tempfile
import threading
import time
from pathlib import Path

from kiln.artifacts import TEMP_PREFIX, ArtifactStore

__all__ = ["FolderSync", "restore_folder"]

SCAN_SECONDS = 2.0  # a new or changed checkpoint reaches the store within a few seconds
QUIET_SECONDS = 0.1  # a file modified more recently than this may still be being written


def _signature(path: Path) -> tuple[int, int, int]:
    stat = path.stat()
    return (stat.st_ino, stat.st_size, stat.st_mtime_ns)


def restore_folder(store: ArtifactStore, uri: str, folder: Path) -> int:
    """Download what is stored under ``uri`` into ``folder``; returns the number of files."""
    folder.mkdir(parents=True, exist_ok=True)
    if not store.exists(uri):
        return 0
    return len(store.get_tree(uri, folder))


class FolderSync:
    def __init__(self, store: ArtifactStore, folder: Path, uri: str, on_error: object = None) -> None:
        self._store = store
        self._folder = folder
        self._uri = uri.rstrip("/")
        self._uploaded: dict[Path, tuple[int, int, int]] = {}
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name=f"kiln-sync-{folder.name}", daemon=True)
        self.errors: list[str] = []

    def start(self) -> FolderSync:
        # What was restored before the script started is already in the store.
        for path, signature in self._scan().items():
            self._uploaded[path] = signature
        self._thread.start()
        return self

    def _scan(self) -> dict[Path, tuple[int, int, int]]:
        found: dict[Path, tuple[int, int, int]] = {}
        if not self._folder.exists():
            return found
        for path in self._folder.rglob("*"):
            if path.name.startswith(TEMP_PREFIX):
                continue
            try:
                if path.is_file():
                    found[path] = _signature(path)
            except FileNotFoundError:
                continue  # deleted between listing and stat
        return found

    def sync_once(self, *, final: bool = False) -> int:
        """Upload the files that changed since their last upload; returns how many were uploaded."""
        with self._lock:
            count = 0
            for path, signature in self._scan().items():
                if self._uploaded.get(path) == signature:
                    continue
                if not final and time.time() - signature[2] / 1e9 < QUIET_SECONDS:
                    continue  # being written right now: next scan
                key = path.relative_to(self._folder).as_posix()
                try:
                    if self._upload_snapshot(path, signature, f"{self._uri}/{key}"):
                        self._uploaded[path] = signature
                        count += 1
                except Exception as e:  # a failed upload is retried at the next scan
                    self.errors.append(f"{key}: {e}")
            return count

    def _upload_snapshot(self, path: Path, signature: tuple[int, int, int], uri: str) -> bool:
        with tempfile.TemporaryDirectory(prefix="kiln-sync-") as tmp:
            snapshot = Path(tmp) / path.name
            try:
                shutil.copyfile(path, snapshot)
                if _signature(path) != signature:
                    return False  # it changed while being copied: the copy may be torn
            except FileNotFoundError:
                return False
            self._store.put_file(snapshot, uri)
        return True

    def _run(self) -> None:
        while not self._stop.wait(SCAN_SECONDS):
            self.sync_once()

    def stop(self) -> int:
        """Stop scanning and upload whatever changed since the last upload."""
        self._stop.set()
        self._thread.join(timeout=30)
        return self.sync_once(final=True)
