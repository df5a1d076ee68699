"""The artifact store on a real folder and on fsspec's in-memory filesystem (the non-local code path)."""

from __future__ import annotations

import io
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from kiln.artifacts import TEMP_PREFIX, ArtifactInfo, ArtifactStore, resolve_store
from kiln.errors import Conflict, NotFound, ValidationError

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


@pytest.fixture(params=["local", "memory"])
def any_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ArtifactStore]:
    if request.param == "local":
        yield ArtifactStore((tmp_path / "artifacts").as_uri())
        return
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


# -- put, get, list, open (both backends) ---------------------------------------------------------------


def test_an_object_round_trips_through_put_and_open(any_store: ArtifactStore) -> None:
    uri = any_store.uri("data", "hello.txt")
    assert not any_store.exists(uri)

    assert any_store.put_bytes(b"hello, kiln", uri) == uri

    assert any_store.exists(uri)
    assert not any_store.is_dir(uri)
    assert any_store.is_dir(any_store.uri("data"))
    with any_store.open(uri) as stream:
        assert stream.read() == b"hello, kiln"
    assert any_store.list_objects(uri) == [ArtifactInfo(uri, 11, False)]


def test_put_bytes_and_put_stream_replace_an_existing_object(any_store: ArtifactStore) -> None:
    uri = any_store.uri("data", "value.txt")
    any_store.put_bytes(b"first", uri)
    any_store.put_stream(io.BytesIO(b"second, longer"), uri)

    with any_store.open(uri) as stream:
        assert stream.read() == b"second, longer"
    assert [(e.uri, e.size) for e in any_store.list_objects(any_store.uri("data"))] == [(uri, 14)]


def test_listing_a_prefix_shows_files_and_folders_and_recursive_shows_every_file(
    any_store: ArtifactStore,
) -> None:
    prefix = any_store.uri("set")
    any_store.put_bytes(b"a" * 3, f"{prefix}/a.csv")
    any_store.put_bytes(b"b" * 5, f"{prefix}/nested/deeper/b.csv")
    any_store.put_bytes(b"c" * 7, f"{prefix}/with space #1.csv")

    shallow = any_store.list_objects(prefix)
    assert [(e.uri, e.size, e.is_dir) for e in shallow] == [
        (f"{prefix}/a.csv", 3, False),
        (f"{prefix}/nested", 0, True),
        (f"{prefix}/with space #1.csv", 7, False),
    ]
    deep = any_store.list_objects(prefix + "/", recursive=True)
    assert [(e.uri, e.size, e.is_dir) for e in deep] == [
        (f"{prefix}/a.csv", 3, False),
        (f"{prefix}/nested/deeper/b.csv", 5, False),
        (f"{prefix}/with space #1.csv", 7, False),
    ]
    # Every listed URI opens: the listing spells URIs the way the store reads them.
    for entry in deep:
        with any_store.open(entry.uri) as stream:
            assert len(stream.read()) == entry.size


def test_put_tree_and_get_tree_copy_a_folder_with_its_structure(
    any_store: ArtifactStore, tmp_path: Path
) -> None:
    source = tmp_path / "source"
    (source / "images" / "train").mkdir(parents=True)
    (source / "labels.csv").write_text("id,label\n1,cat\n")
    (source / "images" / "train" / "0001.bin").write_bytes(bytes(range(256)))
    prefix = any_store.uri("dataset")

    uploaded = any_store.put_tree(source, prefix)

    assert uploaded == [f"{prefix}/images/train/0001.bin", f"{prefix}/labels.csv"]
    target = tmp_path / "downloaded"
    written = any_store.get_tree(prefix, target)
    assert sorted(p.relative_to(target).as_posix() for p in written) == [
        "images/train/0001.bin",
        "labels.csv",
    ]
    assert (target / "labels.csv").read_text() == "id,label\n1,cat\n"
    assert (target / "images" / "train" / "0001.bin").read_bytes() == bytes(range(256))


def test_get_tree_of_one_object_downloads_that_object(any_store: ArtifactStore, tmp_path: Path) -> None:
    uri = any_store.put_bytes(b"weights", any_store.uri("models", "model.tar.gz"))

    written = any_store.get_tree(uri, tmp_path / "out")

    assert written == [tmp_path / "out" / "model.tar.gz"]
    assert written[0].read_bytes() == b"weights"


def test_get_file_copies_one_object(any_store: ArtifactStore, tmp_path: Path) -> None:
    uri = any_store.put_bytes(b"payload", any_store.uri("x", "y.bin"))

    local = any_store.get_file(uri, tmp_path / "deep" / "copy.bin")

    assert local.read_bytes() == b"payload"


def test_delete_removes_a_prefix_and_is_quiet_when_nothing_is_there(any_store: ArtifactStore) -> None:
    prefix = any_store.uri("gone")
    any_store.put_bytes(b"1", f"{prefix}/a")
    any_store.put_bytes(b"2", f"{prefix}/b/c")

    any_store.delete(prefix)
    any_store.delete(prefix)

    assert not any_store.exists(prefix)
    assert not any_store.exists(f"{prefix}/b/c")


# -- what is missing or wrong ---------------------------------------------------------------------------


def test_a_missing_object_is_not_found_with_its_uri_in_the_message(
    any_store: ArtifactStore, tmp_path: Path
) -> None:
    missing = any_store.uri("nothing", "here.txt")
    hint = r"No artifact at '.*nothing/here\.txt'.*kiln artifacts ls"

    with pytest.raises(NotFound, match=hint):
        any_store.list_objects(missing)
    with pytest.raises(NotFound, match=hint), any_store.open(missing):
        pass
    with pytest.raises(NotFound, match=hint):
        any_store.get_file(missing, tmp_path / "copy")
    with pytest.raises(NotFound, match=hint):
        any_store.get_tree(missing, tmp_path / "tree")
    assert not (tmp_path / "copy").exists()


def test_opening_a_folder_says_it_is_a_folder(any_store: ArtifactStore) -> None:
    any_store.put_bytes(b"1", any_store.uri("folder", "file"))

    with (
        pytest.raises(ValidationError, match="is a folder, not an object"),
        any_store.open(any_store.uri("folder")),
    ):
        pass


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
