"""/api/v1/artifacts through the SDK: a real server on loopback, and once the in-process app."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest

import kiln
from asgi_transport import SyncASGITransport
from kiln.artifacts import resolve_store
from kiln.config import Settings
from kiln.errors import Conflict, NotFound, ValidationError
from kiln.executors import LocalExecutor
from kiln.metadata import Database
from kiln.server.app import create_app

if TYPE_CHECKING:
    from conftest import RunningServer

SPOOLED_TO_DISK_BYTES = 9 << 20  # over the route's 8 MiB in-memory spool


def _unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def _files_under(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


@pytest.fixture
def dataset(tmp_path: Path) -> Path:
    folder = tmp_path / "dataset"
    (folder / "train" / "shards").mkdir(parents=True)
    (folder / "train" / "shards" / "0.bin").write_bytes(bytes(range(256)) * 4)
    (folder / "train" / "labels.csv").write_text("id,label\n1,cat\n2,dog\n")
    (folder / "README with spaces.txt").write_text("hello")
    return folder


# -- through a real server ------------------------------------------------------------------------------


def test_uploading_a_file_returns_its_uri_under_the_bucket_and_prefix(
    session: kiln.Session, server: RunningServer, tmp_path: Path
) -> None:
    local = tmp_path / "train.csv"
    local.write_bytes(b"x,y\n1,2\n")
    prefix = _unique("one-file")

    uri = session.upload_data(local, key_prefix=prefix)

    assert session.default_bucket() == server.default_bucket
    assert uri == f"{session.bucket_uri()}/{prefix}/train.csv"
    if server.backend == "local":  # the folder store's bucket is a folder of $KILN_HOME/artifacts
        bucket_uri = (server.home / "artifacts").as_uri() + "/kiln"
        assert session.bucket_uri() == bucket_uri
        assert (server.home / "artifacts" / "kiln" / prefix / "train.csv").read_bytes() == b"x,y\n1,2\n"
    assert session.list_artifacts(uri) == [{"Uri": uri, "Size": 8, "IsFolder": False}]
    assert session.read_artifact(uri) == b"x,y\n1,2\n"


def test_uploading_a_folder_returns_the_prefix_and_keeps_every_relative_path(
    session: kiln.Session, dataset: Path
) -> None:
    prefix = _unique("folder")

    uri = session.upload_data(dataset, key_prefix=f"/{prefix}/")

    assert uri == f"{session.bucket_uri()}/{prefix}"
    listed = session.list_artifacts(uri, recursive=True)
    assert listed == [
        {"Uri": f"{uri}/README with spaces.txt", "Size": 5, "IsFolder": False},
        {"Uri": f"{uri}/train/labels.csv", "Size": 21, "IsFolder": False},
        {"Uri": f"{uri}/train/shards/0.bin", "Size": 1024, "IsFolder": False},
    ]
    assert session.list_artifacts(uri) == [
        {"Uri": f"{uri}/README with spaces.txt", "Size": 5, "IsFolder": False},
        {"Uri": f"{uri}/train", "Size": 0, "IsFolder": True},
    ]
    # Every listed URI downloads to the bytes that were uploaded.
    expected = _files_under(dataset)
    assert {e["Uri"][len(uri) + 1 :]: session.read_artifact(e["Uri"]) for e in listed} == expected


def test_a_large_binary_object_round_trips_byte_for_byte(session: kiln.Session, tmp_path: Path) -> None:
    local = tmp_path / "weights.bin"
    content = os.urandom(SPOOLED_TO_DISK_BYTES)
    local.write_bytes(content)

    uri = session.upload_data(local, key_prefix=_unique("large"))

    assert session.list_artifacts(uri)[0]["Size"] == len(content)
    assert session.read_artifact(uri) == content


def test_objects_with_any_characters_in_their_names_round_trip(
    session: kiln.Session, server: RunningServer, tmp_path: Path
) -> None:
    folder = tmp_path / "names"
    folder.mkdir()
    names = ["数据 #1.csv", 'quote"d?.txt', "100%.bin"]
    for index, name in enumerate(names):
        (folder / name).write_bytes(f"content {index}".encode())

    uri = session.upload_data(folder, key_prefix=_unique("names"))

    listed = session.list_artifacts(uri)
    assert sorted(e["Uri"] for e in listed) == sorted(f"{uri}/{name}" for name in names)
    for index, name in enumerate(names):
        assert session.read_artifact(f"{uri}/{name}") == f"content {index}".encode()
    answer = httpx.get(
        f"{server.url}/api/v1/artifacts/content", params={"uri": f"{uri}/{names[0]}"}, timeout=10
    )
    assert answer.headers["content-disposition"] == (
        "attachment; filename=\"__ #1.csv\"; filename*=UTF-8''%E6%95%B0%E6%8D%AE%20%231.csv"
    )


def test_uploading_again_replaces_the_object(session: kiln.Session) -> None:
    uri = f"{session.bucket_uri()}/{_unique('replace')}/value.txt"
    session.upload_bytes(b"first version", uri)
    session.upload_bytes(b"second", uri)

    assert session.read_artifact(uri) == b"second"
    assert session.list_artifacts(uri) == [{"Uri": uri, "Size": 6, "IsFolder": False}]


def test_a_missing_uri_is_not_found_when_listed_or_downloaded(session: kiln.Session) -> None:
    missing = f"{session.bucket_uri()}/{_unique('missing')}/nothing.csv"

    with pytest.raises(NotFound, match=r"No artifact at .*nothing\.csv"):
        session.list_artifacts(missing)
    with pytest.raises(NotFound, match=r"No artifact at .*nothing\.csv"):
        session.read_artifact(missing)


def test_downloading_a_folder_is_refused_with_a_hint_and_the_server_keeps_answering(
    session: kiln.Session, dataset: Path
) -> None:
    uri = session.upload_data(dataset, key_prefix=_unique("folder-download"))

    with pytest.raises(ValidationError, match=r"is a folder, not an object.*kiln artifacts ls"):
        session.read_artifact(uri)
    assert session.read_artifact(f"{uri}/train/labels.csv").startswith(b"id,label")


def test_writing_where_a_folder_or_an_object_already_has_the_name_is_a_conflict(
    session: kiln.Session, server: RunningServer, dataset: Path
) -> None:
    server.needs_local_store("a folder cannot share a name with a file; S3 keeps key and prefix apart")
    prefix = _unique("taken")
    uri = session.upload_data(dataset, key_prefix=prefix)
    folder = server.home / "artifacts" / "kiln" / prefix

    with pytest.raises(Conflict, match="a folder of that name exists"):
        session.upload_bytes(b"not a folder", f"{uri}/train")
    with pytest.raises(Conflict, match=r"'labels\.csv' on its path is an object, not a folder"):
        session.upload_bytes(b"nested", f"{uri}/train/labels.csv/inner.txt")

    assert _files_under(folder) == _files_under(dataset)  # no new file, no temp file left behind
    assert sorted(p.name for p in folder.rglob("*")) == sorted(p.name for p in dataset.rglob("*"))


@pytest.mark.parametrize(
    ("uri", "would_write"),
    [
        ("{outside_uri}", "{outside}"),
        ("{outside}", "{outside}"),
        ("gs://some-bucket/key", None),
        ("{bucket}/../../../escaped.txt", "{home}/../escaped.txt"),
        ("{bucket}/data/../../escaped.txt", "{home}/artifacts/escaped.txt"),
        ("{root}-sibling/escaped.txt", "{home}/artifacts-sibling/escaped.txt"),
        ("", None),
    ],
    ids=["file-uri", "plain-path", "other-scheme", "dotdot-above", "dotdot-inside", "sibling", "empty"],
)
def test_a_uri_outside_the_store_is_refused_and_nothing_is_written(
    session: kiln.Session, server: RunningServer, tmp_path: Path, uri: str, would_write: str | None
) -> None:
    outside = tmp_path / "outside.txt"  # the server's disk, beyond the store
    outside.write_text("original")
    names = {
        "outside_uri": outside.as_uri(),
        "outside": str(outside),
        "bucket": session.bucket_uri(),
        "root": (server.home / "artifacts").as_uri(),
        "home": str(server.home),
    }
    uri = uri.format(**names)
    target = Path(would_write.format(**names)) if would_write else None
    existed = target is not None and target.exists()

    with pytest.raises(ValidationError, match=r"outside this server's artifact store|may not contain '\.\.'"):
        session.upload_bytes(b"overwritten", uri)
    with pytest.raises(ValidationError):
        session.list_artifacts(uri)
    with pytest.raises(ValidationError):
        session.read_artifact(uri)

    assert outside.read_text() == "original"
    if target is not None and not existed:
        assert not target.exists()


def test_s3_uris_name_the_local_stores_buckets_and_round_trip(
    session: kiln.Session, server: RunningServer, tmp_path: Path
) -> None:
    server.needs_local_store("every bucket is a folder of it; on S3 another bucket is another bucket")
    bucket = session.default_bucket()
    uri = f"s3://{bucket}/s3-idiom/{tmp_path.name}/a.csv"

    assert session.upload_bytes(b"1,2\n", uri) == uri

    stored = server.home / "artifacts" / bucket / "s3-idiom" / tmp_path.name / "a.csv"
    assert stored.read_bytes() == b"1,2\n"  # the store's <bucket>/<key>
    assert session.read_artifact(uri) == b"1,2\n"
    listed = session.list_artifacts(f"s3://{bucket}/s3-idiom/{tmp_path.name}")
    assert [e["Uri"] for e in listed] == [uri]  # listed as S3, the way it was named
    assert session.read_artifact(stored.as_uri()) == b"1,2\n"  # the file:// spelling is the same object
    other = f"s3://another-bucket/{tmp_path.name}/b.bin"
    session.upload_bytes(b"b", other)
    assert (server.home / "artifacts" / "another-bucket" / tmp_path.name / "b.bin").read_bytes() == b"b"


def test_the_servers_own_files_cannot_be_read_through_the_api(session: kiln.Session) -> None:
    for uri in ("file:///etc/passwd", "/etc/passwd", "file:///etc", "file:///"):
        with pytest.raises(ValidationError, match="outside this server's artifact store"):
            session.read_artifact(uri)
        with pytest.raises(ValidationError, match="outside this server's artifact store"):
            session.list_artifacts(uri, recursive=True)


def test_upload_data_of_a_missing_path_says_so(session: kiln.Session, tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="does not exist"):
        session.upload_data(tmp_path / "no-such-file")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValidationError, match="holds no files"):
        session.upload_data(tmp_path / "empty")


# -- through the in-process app -------------------------------------------------------------------------


def _in_process_session(home: Path, artifact_url: str) -> Iterator[kiln.Session]:
    database_url = f"sqlite:///{home / 'kiln.db'}"
    settings = Settings(home=home, database_url=database_url, artifact_url=artifact_url)
    db = Database(database_url)
    db.migrate()
    app = create_app(settings, db, resolve_store(artifact_url), LocalExecutor())
    transport = SyncASGITransport(app)
    session = kiln.Session(transport=transport)
    try:
        yield session
    finally:
        session.close()
        transport.close()
        db.dispose()


@pytest.fixture
def in_process(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[kiln.Session]:
    monkeypatch.delenv("KILN_URL", raising=False)
    monkeypatch.delenv("KILN_API_TOKEN", raising=False)
    yield from _in_process_session(tmp_path / "home", (tmp_path / "home" / "artifacts").as_uri())


@pytest.fixture
def in_process_memory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[kiln.Session]:
    monkeypatch.delenv("KILN_URL", raising=False)
    monkeypatch.delenv("KILN_API_TOKEN", raising=False)
    root = f"memory://kiln-api-{uuid.uuid4().hex[:8]}"
    (tmp_path / "home").mkdir()
    yield from _in_process_session(tmp_path / "home", root)
    resolve_store(root).delete(root)


def test_the_in_process_app_uploads_lists_and_downloads(
    in_process: kiln.Session, tmp_path: Path, dataset: Path
) -> None:
    uri = in_process.upload_data(dataset, key_prefix="data")

    assert uri == (tmp_path / "home" / "artifacts").as_uri() + "/kiln/data"
    listed = in_process.list_artifacts(uri, recursive=True)
    assert [(e["Uri"][len(uri) + 1 :], e["Size"]) for e in listed] == [
        ("README with spaces.txt", 5),
        ("train/labels.csv", 21),
        ("train/shards/0.bin", 1024),
    ]
    assert in_process.read_artifact(f"{uri}/train/shards/0.bin") == bytes(range(256)) * 4
    assert _files_under(tmp_path / "home" / "artifacts" / "kiln" / "data") == _files_under(dataset)
    with pytest.raises(NotFound):
        in_process.list_artifacts(f"{uri}/nope")
    with pytest.raises(ValidationError, match="outside this server's artifact store"):
        in_process.upload_bytes(b"x", (tmp_path / "outside.txt").as_uri())
    assert not (tmp_path / "outside.txt").exists()


def test_a_bucket_store_serves_its_buckets_but_not_the_servers_disk(
    in_process_memory: kiln.Session, tmp_path: Path, dataset: Path
) -> None:
    session = in_process_memory
    bucket = session.default_bucket()
    assert session.bucket_uri() == f"memory://{bucket}"

    uri = session.upload_data(dataset, key_prefix="data")

    assert uri == f"memory://{bucket}/data"
    listed = session.list_artifacts(uri, recursive=True)
    assert [e["Uri"] for e in listed] == [
        f"{uri}/README with spaces.txt",
        f"{uri}/train/labels.csv",
        f"{uri}/train/shards/0.bin",
    ]
    assert session.read_artifact(f"{uri}/train/labels.csv") == b"id,label\n1,cat\n2,dog\n"
    secret = tmp_path / "secret.txt"
    secret.write_text("server-side secret")
    for outside in (secret.as_uri(), str(secret)):
        with pytest.raises(ValidationError, match="outside this server's artifact store"):
            session.read_artifact(outside)
        with pytest.raises(ValidationError, match="outside this server's artifact store"):
            session.upload_bytes(b"overwritten", outside)
    assert secret.read_text() == "server-side secret"
