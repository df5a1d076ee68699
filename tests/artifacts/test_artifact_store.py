"""The artifact store on a real folder and on fsspec's in-memory filesystem (the non-local code path)."""

from __future__ import annotations

import io
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from kiln.artifacts import TEMP_PREFIX, ArtifactStore, resolve_store
from kiln.errors import Conflict, ValidationError

LARGE_BYTES = 50 * (1 << 20)
SLOW_CHUNK_BYTES = 1 << 20
SLOW_CHUNK_PAUSE_SECONDS = 0.01  # 50 pauses: the write lasts long enough for readers to race it


@pytest.fixture
def store(tmp_path: Path) -> ArtifactStore:
    return ArtifactStore((tmp_path / "artifacts").as_uri())


@pytest.fixture
def memory_store() -> Iterator[ArtifactStore]:
    # fsspec's memory filesystem is one per process: a unique root keeps tests apart.
    root = f"memory://kiln-test-{uuid.uuid4().hex}"
    store = ArtifactStore(root)
    yield store
    store.delete(root)


class SlowStream(io.RawIOBase):
    """A readable stream of ``total`` bytes of ``fill`` that pauses on every read, like a slow upload."""

    def __init__(self, total: int, fill: bytes = b"n", fail_after: int | None = None) -> None:
        self.remaining = total
        self.fill = fill
        self.sent = 0
        self.fail_after = fail_after

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        if self.fail_after is not None and self.sent >= self.fail_after:
            raise OSError("the client went away")
        time.sleep(SLOW_CHUNK_PAUSE_SECONDS)
        size = min(self.remaining, SLOW_CHUNK_BYTES if size < 0 else size)
        self.remaining -= size
        self.sent += size
        return self.fill * size


def _temp_files(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.name.startswith(TEMP_PREFIX)]


# -- naming ---------------------------------------------------------------------------------------------


def test_a_folder_store_names_objects_under_its_kiln_bucket(tmp_path: Path) -> None:
    root = (tmp_path / "artifacts").as_uri()
    store = ArtifactStore(root + "/")

    assert store.root_url == root
    assert (tmp_path / "artifacts").is_dir()  # made on first use
    assert store.default_bucket() == "kiln"
    assert store.bucket_uri() == f"{root}/kiln"
    assert store.bucket_uri("other") == f"{root}/other"
    assert store.uri("data", "train.csv") == f"{root}/kiln/data/train.csv"
    assert store.uri("/data/", "/train.csv") == f"{root}/kiln/data/train.csv"
    assert store.uri() == f"{root}/kiln"
    assert store.uri("model.tar.gz", bucket="models") == f"{root}/models/model.tar.gz"


def test_a_bucket_store_names_objects_under_its_own_bucket(memory_store: ArtifactStore) -> None:
    root = memory_store.root_url
    bucket = root.removeprefix("memory://")

    assert memory_store.default_bucket() == bucket
    assert memory_store.bucket_uri() == root
    assert memory_store.bucket_uri(bucket) == root
    assert memory_store.bucket_uri("other") == "memory://other"
    assert memory_store.uri("data", "train.csv") == f"{root}/data/train.csv"


def test_resolve_store_takes_a_plain_path_as_a_folder(tmp_path: Path) -> None:
    store = resolve_store(str(tmp_path / "plain"))

    assert store.root_url == (tmp_path / "plain").as_uri()
    assert store.scheme == "file"


def test_an_unsupported_scheme_is_refused_with_the_choices(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match=r"unsupported scheme 'ftp'.*file://.*s3://"):
        ArtifactStore("ftp://example.com/artifacts")


# -- atomic writes --------------------------------------------------------------------------------------


def test_readers_never_see_half_an_object_during_a_slow_large_write(store: ArtifactStore) -> None:
    folder_uri = store.uri("big")
    target = f"{folder_uri}/blob.bin"
    store.put_bytes(b"old", target)
    seen_sizes: set[int] = set()
    problems: list[str] = []
    writing = threading.Event()
    done = threading.Event()

    def read_repeatedly() -> None:
        writing.wait()
        while not done.is_set():
            for entry in store.list_objects(folder_uri, recursive=True):
                if TEMP_PREFIX in entry.uri or entry.uri != target:
                    problems.append(f"listed {entry.uri}")
                seen_sizes.add(entry.size)
            with store.open(target) as stream:
                head = stream.read(3)
                stream.seek(0, io.SEEK_END)
                size = stream.tell()
            seen_sizes.add(size)
            if (head, size) not in ((b"old", 3), (b"nnn", LARGE_BYTES)):
                problems.append(f"opened {size} bytes starting {head!r}")

    readers = [threading.Thread(target=read_repeatedly) for _ in range(2)]
    for reader in readers:
        reader.start()
    try:
        writing.set()
        store.put_stream(SlowStream(LARGE_BYTES), target)
        time.sleep(0.05)  # readers look at the finished object too
    finally:
        done.set()
        for reader in readers:
            reader.join()

    assert problems == []
    assert seen_sizes == {3, LARGE_BYTES}  # they did read while the write was under way
    assert store.list_objects(target)[0].size == LARGE_BYTES
    assert _temp_files(Path(store.root_url.removeprefix("file://"))) == []


def test_a_write_that_fails_midway_leaves_the_old_object_and_no_temp_file(store: ArtifactStore) -> None:
    target = store.uri("big", "blob.bin")
    store.put_bytes(b"old", target)

    with pytest.raises(OSError, match="went away"):
        store.put_stream(SlowStream(LARGE_BYTES, fail_after=3 * SLOW_CHUNK_BYTES), target)

    with store.open(target) as stream:
        assert stream.read() == b"old"
    assert _temp_files(Path(store.root_url.removeprefix("file://"))) == []
    assert [e.uri for e in store.list_objects(store.uri("big"))] == [target]


def test_writing_over_a_folder_or_under_an_object_is_a_conflict_that_changes_nothing(
    store: ArtifactStore,
) -> None:
    store.put_bytes(b"inside", store.uri("data", "part", "0.csv"))
    store.put_bytes(b"object", store.uri("data", "labels.csv"))
    root = Path(store.root_url.removeprefix("file://"))
    before = sorted(p.relative_to(root).as_posix() for p in root.rglob("*"))

    with pytest.raises(Conflict, match=r"cannot write '.*data/part': a folder of that name exists"):
        store.put_bytes(b"flat", store.uri("data", "part"))
    with pytest.raises(Conflict, match=r"'labels\.csv' on its path is an object, not a folder"):
        store.put_stream(io.BytesIO(b"nested"), store.uri("data", "labels.csv", "inner.csv"))

    assert sorted(p.relative_to(root).as_posix() for p in root.rglob("*")) == before
    with store.open(store.uri("data", "labels.csv")) as stream:
        assert stream.read() == b"object"
