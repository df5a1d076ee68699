"""Keeps a local folder mirrored into the artifact store while the script writes to it.

Used for checkpoints (both ways: restored before the script starts, uploaded while it runs) and for
TensorBoard event files (uploaded while it runs). A file is uploaded only once its size and
modification time have stayed the same across two scans, so a half-written checkpoint never reaches
the store; uploads are atomic, so a reader never sees half of one either.
"""

from __future__ import annotations

import threading
from pathlib import Path

from kiln.artifacts import TEMP_PREFIX, ArtifactStore

__all__ = ["FolderSync", "restore_folder"]

SCAN_SECONDS = 2.0  # with the two-scan stability rule, a new file is uploaded within ~4-6 s


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
        self._uploaded: dict[Path, tuple[int, int]] = {}
        self._seen: dict[Path, tuple[int, int]] = {}
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

    def _scan(self) -> dict[Path, tuple[int, int]]:
        found: dict[Path, tuple[int, int]] = {}
        if not self._folder.exists():
            return found
        for path in self._folder.rglob("*"):
            if path.name.startswith(TEMP_PREFIX):
                continue
            try:
                if path.is_file():
                    stat = path.stat()
                    found[path] = (stat.st_size, stat.st_mtime_ns)
            except FileNotFoundError:
                continue  # deleted between listing and stat
        return found

    def sync_once(self, *, final: bool = False) -> int:
        """Upload changed files that are stable (or, at the end, every changed file); returns how many."""
        with self._lock:
            current = self._scan()
            count = 0
            for path, signature in current.items():
                if self._uploaded.get(path) == signature:
                    continue
                if not final and self._seen.get(path) != signature:
                    continue  # still changing, or first seen now: wait one more scan
                key = path.relative_to(self._folder).as_posix()
                try:
                    self._store.put_file(path, f"{self._uri}/{key}")
                    self._uploaded[path] = signature
                    count += 1
                except (OSError, Exception) as e:  # a failed upload is retried at the next scan
                    self.errors.append(f"{key}: {e}")
            self._seen = current
            return count

    def _run(self) -> None:
        while not self._stop.wait(SCAN_SECONDS):
            self.sync_once()

    def stop(self) -> int:
        """Stop scanning and upload whatever changed since the last upload."""
        self._stop.set()
        self._thread.join(timeout=30)
        return self.sync_once(final=True)
