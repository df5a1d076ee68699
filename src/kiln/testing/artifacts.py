"""The artifact store's contract, as tests every backend must pass (a folder, memory, S3).

Subclass ``ArtifactStoreConformance`` and give it a ``store`` fixture: an ``ArtifactStore`` over an
empty root of the backend under test. ``S3`` runs when ``KILN_TEST_ARTIFACT_URL`` names a bucket (CI
starts moto's S3 server and points ``AWS_ENDPOINT_URL`` at it).
"""

from __future__ import annotations

import io
import uuid
from pathlib import Path

import pytest

from kiln.artifacts import ArtifactInfo, ArtifactStore
from kiln.errors import NotFound, ValidationError

__all__ = ["ArtifactStoreConformance"]


class ArtifactStoreConformance:
    """What every artifact backend does. Fixture: ``store``, over an empty root."""

    def test_an_object_round_trips_through_put_and_open(self, store: ArtifactStore) -> None:
        uri = store.uri("data", "hello.txt")
        assert not store.exists(uri)

        assert store.put_bytes(b"hello, kiln", uri) == uri

        assert store.exists(uri)
        assert not store.is_dir(uri)
        assert store.is_dir(store.uri("data"))
        with store.open(uri) as stream:
            assert stream.read() == b"hello, kiln"
        assert store.list_objects(uri) == [ArtifactInfo(uri, 11, False)]

    def test_put_bytes_and_put_stream_replace_an_existing_object(self, store: ArtifactStore) -> None:
        uri = store.uri("data", "value.txt")
        store.put_bytes(b"first", uri)
        store.put_stream(io.BytesIO(b"second, longer"), uri)

        with store.open(uri) as stream:
            assert stream.read() == b"second, longer"
        assert [(e.uri, e.size) for e in store.list_objects(store.uri("data"))] == [(uri, 14)]

    def test_listing_a_prefix_shows_files_and_folders_and_recursive_shows_every_file(
        self,
        store: ArtifactStore,
    ) -> None:
        prefix = store.uri("set")
        store.put_bytes(b"a" * 3, f"{prefix}/a.csv")
        store.put_bytes(b"b" * 5, f"{prefix}/nested/deeper/b.csv")
        store.put_bytes(b"c" * 7, f"{prefix}/with space #1.csv")

        shallow = store.list_objects(prefix)
        assert [(e.uri, e.size, e.is_dir) for e in shallow] == [
            (f"{prefix}/a.csv", 3, False),
            (f"{prefix}/nested", 0, True),
            (f"{prefix}/with space #1.csv", 7, False),
        ]
        deep = store.list_objects(prefix + "/", recursive=True)
        assert [(e.uri, e.size, e.is_dir) for e in deep] == [
            (f"{prefix}/a.csv", 3, False),
            (f"{prefix}/nested/deeper/b.csv", 5, False),
            (f"{prefix}/with space #1.csv", 7, False),
        ]
        # Every listed URI opens: the listing spells URIs the way the store reads them.
        for entry in deep:
            with store.open(entry.uri) as stream:
                assert len(stream.read()) == entry.size

    def test_put_tree_and_get_tree_copy_a_folder_with_its_structure(
        self, store: ArtifactStore, tmp_path: Path
    ) -> None:
        source = tmp_path / "source"
        (source / "images" / "train").mkdir(parents=True)
        (source / "labels.csv").write_text("id,label\n1,cat\n")
        (source / "images" / "train" / "0001.bin").write_bytes(bytes(range(256)))
        prefix = store.uri("dataset")

        uploaded = store.put_tree(source, prefix)

        assert uploaded == [f"{prefix}/images/train/0001.bin", f"{prefix}/labels.csv"]
        target = tmp_path / "downloaded"
        written = store.get_tree(prefix, target)
        assert sorted(p.relative_to(target).as_posix() for p in written) == [
            "images/train/0001.bin",
            "labels.csv",
        ]
        assert (target / "labels.csv").read_text() == "id,label\n1,cat\n"
        assert (target / "images" / "train" / "0001.bin").read_bytes() == bytes(range(256))

    def test_get_tree_of_one_object_downloads_that_object(self, store: ArtifactStore, tmp_path: Path) -> None:
        uri = store.put_bytes(b"weights", store.uri("models", "model.tar.gz"))

        written = store.get_tree(uri, tmp_path / "out")

        assert written == [tmp_path / "out" / "model.tar.gz"]
        assert written[0].read_bytes() == b"weights"

    def test_get_file_copies_one_object(self, store: ArtifactStore, tmp_path: Path) -> None:
        uri = store.put_bytes(b"payload", store.uri("x", "y.bin"))

        local = store.get_file(uri, tmp_path / "deep" / "copy.bin")

        assert local.read_bytes() == b"payload"

    def test_delete_removes_a_prefix_and_is_quiet_when_nothing_is_there(self, store: ArtifactStore) -> None:
        prefix = store.uri("gone")
        store.put_bytes(b"1", f"{prefix}/a")
        store.put_bytes(b"2", f"{prefix}/b/c")

        store.delete(prefix)
        store.delete(prefix)

        assert not store.exists(prefix)
        assert not store.exists(f"{prefix}/b/c")

    # -- what is missing or wrong

    def test_a_missing_object_is_not_found_with_its_uri_in_the_message(
        self, store: ArtifactStore, tmp_path: Path
    ) -> None:
        missing = store.uri("nothing", "here.txt")
        hint = r"No artifact at '.*nothing/here\.txt'.*kiln artifacts ls"

        with pytest.raises(NotFound, match=hint):
            store.list_objects(missing)
        with pytest.raises(NotFound, match=hint), store.open(missing):
            pass
        with pytest.raises(NotFound, match=hint):
            store.get_file(missing, tmp_path / "copy")
        with pytest.raises(NotFound, match=hint):
            store.get_tree(missing, tmp_path / "tree")
        assert not (tmp_path / "copy").exists()

    def test_opening_a_folder_says_it_is_a_folder(self, store: ArtifactStore) -> None:
        store.put_bytes(b"1", store.uri("folder", "file"))

        with (
            pytest.raises(ValidationError, match="is a folder, not an object"),
            store.open(store.uri("folder")),
        ):
            pass

    def test_a_name_too_long_for_the_backend_is_refused_by_name_or_kept_whole(
        self, store: ArtifactStore
    ) -> None:
        # A folder refuses a 300-character file name; S3 and memory take it. Either way, never a raw
        # OSError: the caller learns which name to shorten.
        uri = store.uri("long", "n" * 300 + ".bin")
        refusal: ValidationError | None = None
        try:
            store.put_bytes(b"kept", uri)
        except ValidationError as e:
            refusal = e
        if refusal is not None:
            assert uri in refusal.message
            assert "too long" in refusal.message
            assert not store.exists(uri)
        else:
            with store.open(uri) as stream:
                assert stream.read() == b"kept"

    def test_writing_into_a_bucket_that_does_not_exist_names_the_bucket_or_makes_it(
        self, store: ArtifactStore
    ) -> None:
        # A folder store makes a bucket folder on first write; on S3 a bucket is the account's and
        # Kiln creates none: the refusal names the bucket and says what to do, never "no artifact".
        if store.scheme not in ("file", "s3"):
            pytest.skip(f"a {store.scheme}:// store names no s3:// buckets")
        uri = f"s3://kiln-no-such-bucket-{uuid.uuid4().hex[:12]}/data/x.csv"
        refusal: NotFound | None = None
        try:
            store.put_bytes(b"1,2\n", uri)
        except NotFound as e:
            refusal = e
        if refusal is not None:
            assert "bucket 'kiln-no-such-bucket-" in refusal.message
            assert "does not exist" in refusal.message
            assert f"s3://{store.default_bucket()}/<key>" in refusal.message
        else:
            with store.open(uri) as stream:
                assert stream.read() == b"1,2\n"
