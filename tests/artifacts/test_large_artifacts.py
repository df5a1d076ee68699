"""A large artifact through Kiln's store: S3 receives it as a multipart upload, and on every backend
no reader ever sees it half-written (a folder: written beside its name and renamed into place; S3:
the object exists only once its multipart upload completes).

The 200 MiB are generated as the store reads them, so the test holds one block in memory at a time;
S3 runs when ``KILN_TEST_ARTIFACT_URL`` names a bucket (CI runs moto's S3 server for it).
"""

from __future__ import annotations

import hashlib
import io
import threading
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import fsspec
import pytest

from kiln.artifacts import TEMP_PREFIX, ArtifactStore
from kiln.errors import NotFound
from kiln.testing import ARTIFACT_URL_VARIABLE, service_url

BLOCK = 1 << 20
SIZE = 200 * BLOCK  # past S3's single-request comfort: s3fs sends it in parts of its block size
READ_CHUNK = 8 * BLOCK


@pytest.fixture(params=["local", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ArtifactStore]:
    if request.param == "local":
        yield ArtifactStore((tmp_path / "artifacts").as_uri())
        return
    bucket = service_url(ARTIFACT_URL_VARIABLE)
    if bucket is None:
        pytest.skip(f"no S3 for this run: set {ARTIFACT_URL_VARIABLE} (CI does)")
    root = f"{bucket.rstrip('/')}/kiln-large-{uuid.uuid4().hex}"
    created = ArtifactStore(root)
    yield created
    created.delete(root)  # moto keeps every object in its memory


class _Generated(io.RawIOBase):
    """``SIZE`` bytes made on demand (each MiB names its own index, so a lost or repeated part shows
    in the digest); ``at_half`` runs once, in the writer's thread, when half has been read."""

    def __init__(self, at_half: Callable[[], None]) -> None:
        self.digest = hashlib.sha256()
        self._sent = 0
        self._at_half: Callable[[], None] | None = at_half

    def readable(self) -> bool:
        return True

    def readinto(self, target: Any) -> int:
        if self._sent >= SIZE:
            return 0
        if self._at_half is not None and self._sent >= SIZE // 2:
            at_half, self._at_half = self._at_half, None
            at_half()
        view = memoryview(target).cast("B")
        offset = self._sent % BLOCK
        block = (self._sent // BLOCK).to_bytes(8, "big") * (BLOCK // 8)
        data = block[offset : offset + min(len(view), BLOCK - offset)]
        view[: len(data)] = data
        self.digest.update(data)
        self._sent += len(data)
        return len(data)


def _visible_sizes(store: ArtifactStore, uri: str, prefix: str) -> set[int | None]:
    """What a reader finds of ``uri`` right now by listing, stat and reading it: None for nothing.
    Each look is separate (the upload may complete between two), so each must see all or nothing."""
    try:
        listed = [e.size for e in store.list_objects(prefix, recursive=True) if e.uri == uri]
    except NotFound:
        listed = []
    found: set[int | None] = {listed[0] if listed else None}
    try:
        found.add(store.stat(uri).size)
    except NotFound:
        found.add(None)
    try:
        with store.open(uri) as stream:
            stream.seek(0, io.SEEK_END)
            found.add(int(stream.tell()))
    except NotFound:
        found.add(None)
    return found


def test_a_large_artifact_is_never_visible_half_written_and_goes_to_s3_in_parts(
    store: ArtifactStore,
) -> None:
    prefix = store.uri("outputs", "large-job")
    uri = f"{prefix}/output/model.tar.gz"
    store.put_bytes(b"unrelated", f"{prefix}/output/other.bin")  # the prefix exists throughout
    seen: set[int | None] = set()
    problems: list[BaseException] = []
    done = threading.Event()

    def reader() -> None:  # a second client, listing and opening while the upload runs
        try:
            while not done.is_set():
                seen.update(_visible_sizes(store, uri, prefix))
        except BaseException as e:
            problems.append(e)

    halfway: set[int | None] = set()

    def at_half() -> None:
        halfway.update(_visible_sizes(store, uri, prefix))
        if store.scheme == "file":  # the bytes so far are on disk, under a name no listing shows
            folder = Path(store.uri("outputs", "large-job", "output")[len("file://") :])
            assert [p.name for p in folder.iterdir() if p.name.startswith(TEMP_PREFIX)]

    source = _Generated(at_half)
    watcher = threading.Thread(target=reader)
    watcher.start()
    try:
        store.put_stream(io.BufferedReader(source, BLOCK), uri)
    finally:
        done.set()
        watcher.join()

    assert not problems, problems
    assert halfway == {None}  # half sent: nothing to see
    assert seen <= {None, SIZE}, sorted(s for s in seen if s is not None)
    assert store.stat(uri).size == SIZE
    back = hashlib.sha256()
    with store.open(uri) as stream:
        while chunk := stream.read(READ_CHUNK):
            back.update(chunk)
    assert back.hexdigest() == source.digest.hexdigest()
    if store.scheme == "s3":  # a multipart upload's ETag is "<digest of the parts' digests>-<parts>"
        fs, path = fsspec.core.url_to_fs(uri)
        parts = fs.info(path)["ETag"].strip('"').rpartition("-")[2]
        assert parts.isdigit(), fs.info(path)["ETag"]
        assert int(parts) >= 2
