"""What the store offers Kiln's S3: s3:// names both ways, stat with a version stamp, hidden staging
at any depth, and writes that fail without publishing anything, on a folder and a bucket store."""

from __future__ import annotations

import io
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from kiln.artifacts import ArtifactStore


class FailingStream(io.RawIOBase):
    def __init__(self, good: bytes) -> None:
        self.good = good

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        if self.good:
            data, self.good = self.good, b""
            return data
        raise OSError("the checksum did not match")


@pytest.fixture(params=["local", "memory"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ArtifactStore]:
    if request.param == "local":
        yield ArtifactStore((tmp_path / "artifacts").as_uri())
        return
    root = f"memory://kiln-s3-test-{uuid.uuid4().hex}"
    made = ArtifactStore(root)
    yield made
    made.delete(root)


def test_s3_uris_of_a_folder_store_are_its_bucket_folders(tmp_path: Path) -> None:
    store = ArtifactStore((tmp_path / "artifacts").as_uri())
    root = store.root_url
    assert store.from_s3_uri("s3://kiln/data/train.csv") == f"{root}/kiln/data/train.csv"
    assert store.from_s3_uri("s3://sagemaker-us-east-1-1/x") == f"{root}/sagemaker-us-east-1-1/x"
    assert store.from_s3_uri("s3://kiln") == f"{root}/kiln"
    assert store.to_s3_uri(f"{root}/kiln/model/model.tar.gz") == "s3://kiln/model/model.tar.gz"
    assert store.from_s3_uri("file:///elsewhere") == "file:///elsewhere"
    assert store.to_s3_uri("file:///elsewhere/x") == "file:///elsewhere/x"


def test_s3_uris_of_a_bucket_store_keep_its_prefix_for_the_default_bucket() -> None:
    store = ArtifactStore("s3://corp-ml/kiln")
    assert store.from_s3_uri("s3://corp-ml/data/a.csv") == "s3://corp-ml/kiln/data/a.csv"
    assert store.from_s3_uri("s3://other/a.csv") == "s3://other/a.csv"
    assert store.to_s3_uri("s3://corp-ml/kiln/data/a.csv") == "s3://corp-ml/data/a.csv"


def test_stat_reports_modification_time_and_a_version_that_changes(store: ArtifactStore) -> None:
    uri = store.uri("stamped.txt")
    store.put_bytes(b"one", uri)
    first = store.stat(uri)
    assert (first.size, first.is_dir) == (3, False)
    assert first.modified is not None
    store.put_bytes(b"two!", uri)
    assert store.stat(uri).version != first.version


def test_listings_skip_hidden_staging_folders_at_any_depth(store: ArtifactStore) -> None:
    store.put_bytes(b"x", store.uri("visible/a.txt"))
    store.put_bytes(b"x", store.uri(".kiln-tmp-s3/uploads/1234/part-00001.json"))
    listed = [entry.uri for entry in store.list_objects(store.bucket_uri(), recursive=True)]
    assert store.uri("visible/a.txt") in listed
    assert not [uri for uri in listed if ".kiln-tmp-" in uri]


def test_a_write_whose_source_fails_publishes_nothing(tmp_path: Path) -> None:
    # fsspec's memory filesystem publishes a file when it is opened, so only real backends qualify.
    store = ArtifactStore((tmp_path / "artifacts").as_uri())
    uri = store.uri("never.bin")
    with pytest.raises(OSError, match="checksum"):
        store.put_stream(FailingStream(b"half of it"), uri)
    assert not store.exists(uri)
    store.make_folder(store.uri("made/folder"))
    assert store.is_dir(store.uri("made/folder"))


def test_concatenate_joins_objects_in_order(store: ArtifactStore) -> None:
    parts = [
        store.put_bytes(data, store.uri(f"parts/{n}")) for n, data in enumerate([b"ab", b"", b"cde" * 1000])
    ]
    joined = store.concatenate(parts, store.uri("joined.bin"))
    assert (joined.uri, joined.size) == (store.uri("joined.bin"), 3002)
    assert joined.version == store.stat(joined.uri).version  # the stamp of what is now stored
    with store.open(joined.uri) as stream:
        assert stream.read() == b"ab" + b"cde" * 1000
    assert not [e for e in store.list_objects(store.bucket_uri(), recursive=True) if ".kiln-tmp-" in e.uri]
