"""Buckets and objects over Kiln's artifact store: the mapping, and what S3 keeps beside each object.

A bucket is the store's bucket folder (``ArtifactStore.bucket_uri``: ``<root>/<bucket>`` for a
folder store, the root or ``s3://<bucket>`` for an S3 store), and a key is the path under it, so an
object put through S3 is the artifact Kiln's own API and jobs read, and the other way round.

What the store cannot hold as a file (the ETag, Content-Type, user metadata, the checksum the client
sent) lives in a small JSON record per object under the store's hidden folder, stamped with the
object's version (inode, mtime and size; the backend's ETag on S3). A record whose stamp no longer
matches describes an older write (the object was replaced through Kiln's own API, or by a racing
writer) and is rebuilt from the content: the ETag is always the MD5 of what is stored now, or the
multipart ETag of the upload that stored it.
"""

from __future__ import annotations

import hashlib
import io
import json
import mimetypes
import os
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from typing import IO, Any

from kiln.artifacts import TEMP_PREFIX, ArtifactInfo, ArtifactStore, local_path_of
from kiln.errors import NotFound
from kiln.server.wire.s3.errors import S3Error
from kiln.server.wire.s3.naming import check_bucket_name, is_bucket_name

__all__ = ["HIDDEN_FOLDER", "BucketStore", "ObjectAttributes", "ObjectHead", "StoredEntry"]

HIDDEN_FOLDER = f"{TEMP_PREFIX}s3"  # a name every store listing skips; S3's records and staging
HASH_CHUNK_BYTES = 1 << 20
OPEN_ATTEMPTS = 3  # an object replaced between stat and open this often is answered SlowDown
DEFAULT_CONTENT_TYPE = "binary/octet-stream"  # what S3 answers for an object stored without one


@dataclass(frozen=True)
class ObjectAttributes:
    """What a writer sends with an object and every reader gets back."""

    content_type: str = DEFAULT_CONTENT_TYPE
    headers: dict[str, str] = field(default_factory=dict)  # Content-Encoding, Cache-Control, …
    metadata: dict[str, str] = field(default_factory=dict)  # x-amz-meta-<name> → value


@dataclass(frozen=True)
class ObjectHead:
    key: str
    size: int
    modified: datetime
    etag: str  # quoted, as S3 sends it: "<md5 hex>" or "<md5 of part md5s>-<parts>"
    attributes: ObjectAttributes
    checksum: tuple[str, str] | None = None  # (algorithm, base64) of a single-part upload
    parts: int = 0


@dataclass(frozen=True)
class StoredEntry:
    """One object found by a listing, before its record is read."""

    key: str
    size: int
    modified: datetime
    uri: str


class BucketStore:
    """S3's view of one artifact store. Blocking: call it from a worker thread."""

    def __init__(self, store: ArtifactStore) -> None:
        self.store = store
        self.hidden_uri = f"{store.root_url}/{HIDDEN_FOLDER}"

    # -- buckets ------------------------------------------------------------------------------------

    def bucket_uri(self, bucket: str) -> str:
        return self.store.bucket_uri(check_bucket_name(bucket))

    def object_uri(self, bucket: str, key: str) -> str:
        return f"{self.bucket_uri(bucket)}/{key}"

    def bucket_exists(self, bucket: str) -> bool:
        if not is_bucket_name(bucket):
            return False
        uri = self.store.bucket_uri(bucket)
        if bucket == self.store.default_bucket():
            self.store.make_folder(uri)  # Kiln's default bucket always exists, as its SDK assumes
            return True
        return self.store.is_dir(uri) if self.store.scheme == "file" else self.store.exists(uri)

    def require_bucket(self, bucket: str) -> None:
        if not self.bucket_exists(bucket):
            raise S3Error.no_such_bucket(bucket)

    def list_buckets(self) -> list[tuple[str, datetime]]:
        """Every bucket with its creation time: the folder store's bucket folders, an S3 store's own."""
        names = {self.store.default_bucket()}
        if self.store.scheme == "file":
            for entry in self.store.list_objects(self.store.root_url):
                name = entry.uri.rsplit("/", 1)[-1]
                if entry.is_dir and is_bucket_name(name):
                    names.add(name)
        found = []
        for name in sorted(names):
            if self.bucket_exists(name):
                info = self.store.stat(self.store.bucket_uri(name))
                found.append((name, info.modified or datetime.now(timezone.utc)))
        return found

    def create_bucket(self, bucket: str) -> None:
        check_bucket_name(bucket)
        if self.bucket_exists(bucket):
            raise S3Error.bucket_owned(bucket)
        self.store.make_folder(self.store.bucket_uri(bucket))

    def delete_bucket(self, bucket: str) -> None:
        self.require_bucket(bucket)
        if self.list_entries(bucket, ""):
            raise S3Error.bucket_not_empty(bucket)
        self.store.delete(self.store.bucket_uri(bucket))
        self.store.delete(f"{self.hidden_uri}/meta/{bucket}")

    # -- objects ------------------------------------------------------------------------------------

    def stat(self, bucket: str, key: str) -> ArtifactInfo:
        try:
            info = self.store.stat(self.object_uri(bucket, key))
        except NotFound:
            info = None
        if info is None or info.is_dir:
            self.require_bucket(bucket)
            raise S3Error.no_such_key(key)
        return info

    def head(self, bucket: str, key: str) -> ObjectHead:
        return self._head_of(bucket, key, self.stat(bucket, key))

    def _head_of(self, bucket: str, key: str, info: ArtifactInfo) -> ObjectHead:
        modified = info.modified or datetime.now(timezone.utc)
        record = self._read_record(bucket, key)
        if record is not None and record.get("version") == info.version:
            return ObjectHead(
                key,
                info.size,
                modified,
                record["etag"],
                ObjectAttributes(**record["attributes"]),
                tuple(record["checksum"]) if record.get("checksum") else None,
                int(record.get("parts", 0)),
            )
        # Written through Kiln's own API (or replaced since): describe what is stored now.
        digest = hashlib.md5()
        with self.store.open(info.uri) as stream:
            while block := stream.read(HASH_CHUNK_BYTES):
                digest.update(block)
        guessed = mimetypes.guess_type(key)[0] or DEFAULT_CONTENT_TYPE
        head = ObjectHead(key, info.size, modified, f'"{digest.hexdigest()}"', ObjectAttributes(guessed))
        self._write_record(bucket, head, info.version)
        return head

    @contextmanager
    def open(self, bucket: str, key: str) -> Iterator[IO[bytes]]:
        with self.store.open(self.object_uri(bucket, key)) as stream:
            yield stream

    def open_with_head(
        self, bucket: str, key: str
    ) -> tuple[AbstractContextManager[IO[bytes]], IO[bytes], ObjectHead]:
        """The object opened, with the head of exactly what was opened (GetObject's headers and body
        must agree, or botocore's checksum check fails): a local object replaced between the stat
        and the open is noticed by its inode, and opened again."""
        for _ in range(OPEN_ATTEMPTS):
            info = self.stat(bucket, key)
            opened = self.store.open(info.uri)
            try:
                stream = opened.__enter__()
            except NotFound:
                continue  # deleted meanwhile: the next stat says NoSuchKey
            try:
                if _is_version(stream, info):
                    return opened, stream, self._head_of(bucket, key, info)
            except BaseException:
                opened.__exit__(None, None, None)
                raise
            opened.__exit__(None, None, None)
        raise S3Error(
            "SlowDown", f"Please reduce your request rate: {key!r} is being replaced continuously.", 503
        )

    def write(self, bucket: str, key: str, source: IO[bytes]) -> ArtifactInfo:
        """Store ``source`` at the key atomically; the caller then ``record``s what it learned."""
        return self.store.write_stream(source, self._writable_uri(bucket, key))

    def write_joined(self, bucket: str, key: str, uris: list[str]) -> ArtifactInfo:
        """Store the objects ``uris`` one after another at the key, atomically (multipart)."""
        return self.store.concatenate(uris, self._writable_uri(bucket, key))

    def _writable_uri(self, bucket: str, key: str) -> str:
        uri = self.object_uri(bucket, key)
        if self.store.scheme == "file":
            path = local_path_of(uri)
            if path.is_dir() and not any(path.iterdir()):
                path.rmdir()  # an empty folder left by deleted keys yields its name to the object
        return uri

    def record(
        self,
        bucket: str,
        key: str,
        info: ArtifactInfo,
        etag: str,
        attributes: ObjectAttributes,
        checksum: tuple[str, str] | None = None,
        parts: int = 0,
    ) -> ObjectHead:
        """Keep what S3 returns for the object ``info`` (what ``write`` returned) just written at ``key``."""
        head = ObjectHead(
            key, info.size, info.modified or datetime.now(timezone.utc), etag, attributes, checksum, parts
        )
        self._write_record(bucket, head, info.version)
        return head

    def delete(self, bucket: str, key: str) -> None:
        """Remove the object if there is one (a folder of that name is left alone, as S3 would)."""
        uri = self.object_uri(bucket, key)
        try:
            info = self.store.stat(uri)
        except NotFound:
            return
        if info.is_dir:
            return
        self.store.delete(uri)
        self.store.delete(self._record_uri(bucket, key))
        if self.store.scheme == "file":
            _prune_empty_folders(local_path_of(uri).parent, local_path_of(self.bucket_uri(bucket)))

    # -- listing ------------------------------------------------------------------------------------

    def list_entries(self, bucket: str, prefix: str) -> list[StoredEntry]:
        """Every object whose key starts with ``prefix``, in S3's order (by UTF-8 bytes)."""
        base = self.bucket_uri(bucket)
        folder = prefix.rsplit("/", 1)[0] if "/" in prefix else ""
        start = f"{base}/{folder}" if folder else base
        try:
            entries = self.store.list_objects(start, recursive=True)
        except NotFound:
            return []
        found = []
        for entry in entries:
            if entry.is_dir or not entry.uri.startswith(base + "/"):
                continue
            key = entry.uri[len(base) + 1 :]
            if key.startswith(prefix):
                found.append(
                    StoredEntry(key, entry.size, entry.modified or datetime.now(timezone.utc), entry.uri)
                )
        found.sort(key=lambda e: e.key.encode("utf-8", "surrogatepass"))
        return found

    def head_of_entry(self, bucket: str, entry: StoredEntry) -> ObjectHead:
        return self._head_of(bucket, entry.key, self.store.stat(entry.uri))

    # -- records ------------------------------------------------------------------------------------

    def _record_uri(self, bucket: str, key: str) -> str:
        digest = hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()
        return f"{self.hidden_uri}/meta/{bucket}/{digest[:2]}/{digest}.json"

    def _read_record(self, bucket: str, key: str) -> dict[str, Any] | None:
        try:
            with self.store.open(self._record_uri(bucket, key)) as stream:
                record: dict[str, Any] = json.loads(stream.read())
        except (NotFound, ValueError):
            return None
        return record if record.get("key") == key else None

    def _write_record(self, bucket: str, head: ObjectHead, version: str) -> None:
        record = {
            "key": head.key,
            "version": version,
            "etag": head.etag,
            "attributes": asdict(head.attributes),
            "checksum": list(head.checksum) if head.checksum else None,
            "parts": head.parts,
        }
        self.store.put_bytes(json.dumps(record).encode(), self._record_uri(bucket, head.key))


def _is_version(stream: IO[bytes], info: ArtifactInfo) -> bool:
    """Whether the opened local file is the one ``info`` describes (remote objects: assume so)."""
    try:
        status = os.fstat(stream.fileno())
    except (AttributeError, OSError, io.UnsupportedOperation):
        return True
    return info.version.startswith(f"{status.st_ino}/") and status.st_size == info.size


def _prune_empty_folders(folder: Any, bucket_folder: Any) -> None:
    """Remove the folders a deleted key leaves empty, so its name is free for an object again."""
    while folder != bucket_folder and bucket_folder in folder.parents:
        try:
            os.rmdir(folder)
        except OSError:
            return  # not empty (or already gone): S3 has no folders to keep
        folder = folder.parent
