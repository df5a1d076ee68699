"""The artifact store: data, code, model.tar.gz, checkpoints and logs, behind one narrow interface.

fsspec does the I/O, so a local folder (the default) and ``s3://`` look the same here. Writes are
atomic: a local object is written beside its final name and renamed into place; an S3 object appears
only when its upload completes. Readers therefore never see half an object.
"""

from __future__ import annotations

import errno
import io
import os
import posixpath
import shutil
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import IO, Any
from urllib.parse import urlparse

import fsspec

from kiln.errors import Conflict, InternalError, NotFound, ValidationError

__all__ = ["TEMP_PREFIX", "ArtifactInfo", "ArtifactStore"]

_STORE_FULL = frozenset({errno.ENOSPC, errno.EDQUOT})  # the disk, or the owner's quota, is full
TEMP_PREFIX = ".kiln-tmp-"  # half-written local objects; never listed, never downloaded
COPY_CHUNK_BYTES = 1 << 20
COPY_RANGE_BYTES = 1 << 30  # per copy_file_range call; the kernel copies less when the file ends
# s3fs remembers each prefix it listed and then answers "no such file" for any object written
# since by another process (a job's host, a second server): every look goes to S3 instead.
_OPTIONS: dict[str, dict[str, Any]] = {"s3": {"use_listings_cache": False}}


@dataclass(frozen=True)
class ArtifactInfo:
    uri: str
    size: int
    is_dir: bool
    # When the object was last written, and a stamp that changes whenever its content may have
    # (local: inode, mtime and size; S3: the backend's ETag): what caches of its digests check.
    modified: datetime | None = field(default=None, compare=False)
    version: str = field(default="", compare=False)


def _is_local(uri: str) -> bool:
    return uri.startswith("file://") or "://" not in uri


def local_path_of(uri: str) -> Path:
    """The filesystem path of a ``file://`` URI (or of a plain path).

    Read literally, as fsspec reads it: '#', '?' and '%' are parts of the file name, not a fragment,
    a query or an escape, so that a write and a later read or listing name the same file.
    """
    if uri.startswith("file://"):
        return Path(uri[len("file://") :])
    return Path(uri)


class ArtifactStore:
    """Objects addressed by URI under one root URL (``file:///…`` or ``s3://bucket[/prefix]``).

    Every operation accepts the URIs a SageMaker user writes: with a local store, ``s3://<bucket>/<key>``
    is the store's ``<bucket>/<key>`` (the folder ``<root>/<bucket>/<key>``), the same mapping the S3
    wire API serves. ``resolve_uri`` is the one confinement rule for every URI a request names.
    """

    def __init__(self, root_url: str, allowed_roots: tuple[Path, ...] = ()) -> None:
        self.root_url = root_url.rstrip("/")
        # Server folders the operator lets requests name with file:// (config.toml's allowed_roots).
        self.allowed_roots = tuple(Path(os.path.realpath(root)) for root in allowed_roots)
        scheme = urlparse(self.root_url).scheme or "file"
        if scheme not in ("file", "s3", "memory", "gs", "az", "abfs"):
            raise ValidationError(
                f"artifact store URL {root_url!r} has an unsupported scheme {scheme!r}; "
                "use a file:// folder or an s3:// bucket"
            )
        self.scheme = scheme
        if scheme == "file":
            local_path_of(self.root_url).mkdir(parents=True, exist_ok=True)

    # -- naming -------------------------------------------------------------------------------------

    def default_bucket(self) -> str:
        """SageMaker's ``default_bucket()``: for S3 the root's bucket, for a folder its ``kiln`` bucket."""
        if self.scheme == "file":
            return "kiln"
        return urlparse(self.root_url).netloc

    def bucket_uri(self, bucket: str | None = None) -> str:
        if self.scheme == "file":
            return f"{self.root_url}/{bucket or self.default_bucket()}"
        if bucket is None or bucket == self.default_bucket():
            return self.root_url
        return f"{self.scheme}://{bucket}"

    def uri(self, *parts: str, bucket: str | None = None) -> str:
        key = posixpath.join(*[p.strip("/") for p in parts if p.strip("/")]) if parts else ""
        base = self.bucket_uri(bucket)
        return f"{base}/{key}" if key else base

    # -- confinement --------------------------------------------------------------------------------

    def resolve_uri(self, uri: str, *, field: str = "artifact URI", anywhere: bool = False) -> str:
        """The URI fsspec opens for ``uri``, or ``ValidationError`` if a request may not name it.

        The rule, the same for the artifact API, job and model submissions and the runtimes:

        - a ``..`` segment is refused everywhere;
        - ``s3://<bucket>/<key>`` is the store's ``<bucket>/<key>`` (an S3 store: that object itself);
        - a ``file://`` URI or absolute path must lie inside the store's folder or an allowed root
          (symlinks resolved), unless ``anywhere`` (SageMaker local mode's output_path, auth off);
        - any other scheme is refused unless it is the store's own.

        The refusal never depends on whether the path exists, so it answers no question about the
        server's disk.
        """
        cleaned = uri.strip()
        if not cleaned:
            raise self._refused(field, uri, "it is empty")
        scheme, sep, rest = cleaned.partition("://")
        if not sep:
            scheme, rest = "file", cleaned
        if ".." in rest.split("/"):
            raise self._refused(field, uri, "it contains '..'", dotdot=True)
        if scheme == "s3" and self.scheme == "file":
            bucket = rest.split("/", 1)[0]
            if not bucket or bucket.startswith("."):
                raise self._refused(field, uri, f"{bucket!r} is not a bucket name")
            physical = self.from_s3_uri(f"s3://{rest.rstrip('/')}")  # the one bucket → store mapping
            if not anywhere and not self._allows_path(str(local_path_of(physical))):
                raise self._refused(field, uri, "a symbolic link in the store leads out of it")
            return physical
        if scheme == "file":
            path = rest if sep else cleaned
            if not path.startswith("/"):
                raise self._refused(field, uri, "a local path must be absolute")
            if anywhere or self._allows_path(path):
                return f"file://{path}"
            raise self._refused(field, uri)
        if scheme == self.scheme:
            return cleaned
        raise self._refused(field, uri)

    def _allows_path(self, path: str) -> bool:
        real = Path(os.path.realpath(path))
        roots = list(self.allowed_roots)
        if self.scheme == "file":
            roots.append(Path(os.path.realpath(local_path_of(self.root_url))))
        return any(real == root or root in real.parents for root in roots)

    def _refused(self, field: str, uri: str, reason: str = "", *, dotdot: bool = False) -> ValidationError:
        where = f"s3://{self.default_bucket()}/<key>" if self.scheme == "file" else f"{self.root_url}/<key>"
        problem = "is outside this server's artifact store" + (f" ({reason})" if reason else "")
        if dotdot:
            problem = "may not contain '..'"
        return ValidationError(
            f"{field} {uri!r} {problem}; name an object of the store, e.g. {where}, or a folder the "
            "operator lists in allowed_roots of the server's config.toml"
        )

    def from_s3_uri(self, uri: str) -> str:
        """Where ``s3://<bucket>/<key>`` (as Kiln's S3 serves it) lives in this store.

        SageMaker requests name data by ``s3://`` URIs; on a folder store the bucket is a folder of
        the root, on an S3 store the default bucket is the root. Other URIs are returned unchanged.
        """
        if not uri.startswith("s3://"):
            return uri
        bucket, _, key = uri[len("s3://") :].partition("/")
        base = self.bucket_uri(bucket)
        return f"{base}/{key}" if key else base

    def to_s3_uri(self, uri: str) -> str:
        """The ``s3://<bucket>/<key>`` that Kiln's S3 serves the store URI ``uri`` as (or ``uri``)."""
        if self.scheme == "file":
            root = self.root_url + "/"
            if not uri.startswith(root):
                return uri
            return f"s3://{uri[len(root) :]}"
        default = self.bucket_uri()
        if uri == default or uri.startswith(default + "/"):
            return f"s3://{self.default_bucket()}{uri[len(default) :]}"
        return uri

    # -- access -------------------------------------------------------------------------------------

    @contextmanager
    def _fs(self, uri: str) -> Iterator[tuple[Any, str]]:
        """The filesystem and path of ``uri``, with its errors mapped to Kiln's."""
        physical = self.resolve_uri(uri, anywhere=True)
        try:
            fs, path = fsspec.core.url_to_fs(physical, **_OPTIONS.get(physical.partition("://")[0], {}))
        except (ImportError, ValueError) as e:
            raise ValidationError(f"cannot open artifact URI {uri!r}: {e}") from e
        try:
            yield fs, path
        except FileNotFoundError as e:
            raise NotFound(f"No artifact at {uri!r}; `kiln artifacts ls` lists what is stored.") from e
        except PermissionError as e:
            raise InternalError(f"permission denied on artifact {uri!r}: {e}") from e
        except OSError as e:
            if e.errno == errno.ENAMETOOLONG:
                raise _name_too_long(uri) from e
            raise  # a failing source stream is the caller's to report, not the store's

    def exists(self, uri: str) -> bool:
        with self._fs(uri) as (fs, path):
            return bool(fs.exists(path))

    def is_dir(self, uri: str) -> bool:
        with self._fs(uri) as (fs, path):
            return bool(fs.isdir(path))

    def list_objects(self, uri: str, *, recursive: bool = False) -> list[ArtifactInfo]:
        """Objects under ``uri`` (a prefix), or the object itself; half-written ones are left out."""
        with self._fs(uri) as (fs, path):
            if not fs.exists(path):
                raise FileNotFoundError(path)
            protocol = fs.protocol if isinstance(fs.protocol, str) else fs.protocol[0]
            if fs.isfile(path):
                return [_info_of(uri, fs.info(path))]
            if recursive:
                entries = fs.find(path, detail=True)
            else:
                entries = {e["name"]: e for e in fs.ls(path, detail=True)}
            found: list[ArtifactInfo] = []
            base = path.rstrip("/") + "/"
            for name, info in sorted(entries.items()):
                relative = name[len(base) :] if name.startswith(base) else posixpath.basename(name)
                if any(part.startswith(TEMP_PREFIX) for part in relative.split("/")):
                    continue  # half-written, or inside a hidden staging folder
                found.append(_info_of(_child_uri(uri, path, name, protocol), info))
            return found

    def stat(self, uri: str) -> ArtifactInfo:
        """The object or folder at ``uri``, with its modification time and version stamp."""
        with self._fs(uri) as (fs, path):
            return _info_of(uri, fs.info(path))

    def make_folder(self, uri: str) -> None:
        """Create the folder ``uri`` (and its parents) if it does not exist."""
        with self._fs(uri) as (fs, path):
            fs.makedirs(path, exist_ok=True)

    def put_file(self, local: Path, uri: str) -> str:
        """Upload one file to ``uri`` atomically; returns ``uri``."""
        with local.open("rb") as source:
            return self.put_stream(source, uri)

    def put_bytes(self, data: bytes, uri: str) -> str:
        if _is_local(self.resolve_uri(uri, anywhere=True)):
            return self.put_stream(io.BytesIO(data), uri)
        with self._no_bucket_is_named(uri), self._fs(uri) as (fs, path):
            fs.pipe_file(path, data)
        return uri

    def put_stream(self, source: IO[bytes], uri: str) -> str:
        """Copy a readable binary stream to ``uri`` atomically."""
        self.write_stream(source, self.resolve_uri(uri, anywhere=True))
        return uri

    def write_stream(self, source: IO[bytes], uri: str) -> ArtifactInfo:
        """``put_stream``, returning what was written: on a folder store the stat of the very file
        renamed into place, so a racing writer's object is never described as this one."""
        if _is_local(uri):
            return self._write_local(uri, lambda out: shutil.copyfileobj(source, out, COPY_CHUNK_BYTES))
        with self._no_bucket_is_named(uri), self._fs(uri) as (fs, path):
            out = fs.open(path, "wb")
            try:
                shutil.copyfileobj(source, out, COPY_CHUNK_BYTES)
            except BaseException:
                # Closing would publish what was copied so far: throw the upload away instead
                # (s3fs aborts its multipart upload; a file without discard is just never closed).
                discard = getattr(out, "discard", None)
                if discard is not None:
                    discard()
                raise
            out.close()
        return self.stat(uri)  # no rename on S3: the object as it stands right after the upload

    @contextmanager
    def _no_bucket_is_named(self, uri: str) -> Iterator[None]:
        """A write that finds nothing to write into: on S3 its bucket does not exist (a folder store
        makes every bucket it is asked for; S3 buckets are the account's, and Kiln creates none)."""
        try:
            yield
        except NotFound as e:
            bucket = urlparse(self.resolve_uri(uri, anywhere=True)).netloc
            raise NotFound(
                f"cannot write {uri!r}: the bucket {bucket!r} does not exist in S3; create it "
                f"(aws s3 mb s3://{bucket}) or write under this server's default bucket, "
                f"s3://{self.default_bucket()}/<key>"
            ) from e

    def concatenate(self, uris: list[str], uri: str) -> ArtifactInfo:
        """Write the objects ``uris``, one after another, to ``uri`` atomically (S3's multipart
        completion). Local files are joined by the kernel (``copy_file_range``), without a pass
        through Python."""
        if _is_local(uri) and all(_is_local(part) for part in uris):

            def join(out: IO[bytes]) -> None:
                for part in uris:
                    with local_path_of(part).open("rb") as source:
                        _copy_file(source, out)

            return self._write_local(uri, join)
        with _Concatenation(self, uris) as joined:
            return self.write_stream(io.BufferedReader(joined), uri)

    def _write_local(self, uri: str, fill: Callable[[IO[bytes]], object]) -> ArtifactInfo:
        """Write a local object beside its final name, then rename it into place."""
        target = local_path_of(uri)
        tmp = target.with_name(f"{TEMP_PREFIX}{uuid.uuid4().hex}-{target.name}")
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            with tmp.open("wb") as out:
                fill(out)
            status = tmp.stat()  # a rename keeps the inode and mtime: this is the object's version
            os.replace(tmp, target)
        except (IsADirectoryError, NotADirectoryError, FileExistsError) as e:
            # A folder already has the object's name, or an object has the name of a folder on
            # its path: the caller chose a name that is taken, and nothing was changed.
            raise Conflict(f"cannot write {uri!r}: {_name_taken(target)}; choose another name") from e
        except OSError as e:
            if e.errno == errno.ENAMETOOLONG:
                raise _name_too_long(uri) from e
            if e.errno not in _STORE_FULL:
                raise  # a failing source stream is the caller's to report, not the store's
            # The half-written copy is removed below and the object keeps its old content.
            raise InternalError(
                f"the artifact store is full ({e.strerror}) writing {uri!r}; nothing was replaced. "
                f"Free space under {self.root_url} (or raise its quota) and run the job again."
            ) from e
        finally:
            try:
                tmp.unlink()
            except OSError as e:  # never made (its name too long, or no folder), or already renamed
                if e.errno not in (errno.ENOENT, errno.ENOTDIR, errno.ENAMETOOLONG):
                    raise
        return _info_of(
            uri, {"type": "file", "size": status.st_size, "ino": status.st_ino, "mtime": status.st_mtime}
        )

    def put_tree(self, local_dir: Path, uri: str) -> list[str]:
        """Upload every file under ``local_dir`` to the same relative keys under ``uri``."""
        uploaded = []
        for path in sorted(p for p in local_dir.rglob("*") if p.is_file()):
            uploaded.append(
                self.put_file(path, f"{uri.rstrip('/')}/{path.relative_to(local_dir).as_posix()}")
            )
        return uploaded

    @contextmanager
    def open(self, uri: str) -> Iterator[IO[bytes]]:
        with self._fs(uri) as (fs, path):
            if fs.isdir(path):
                raise ValidationError(f"{uri!r} is a folder, not an object; list it with `kiln artifacts ls`")
            with fs.open(path, "rb") as stream:
                yield stream

    def get_file(self, uri: str, local: Path) -> Path:
        local.parent.mkdir(parents=True, exist_ok=True)
        physical = self.resolve_uri(uri, anywhere=True)
        if _is_local(physical):
            try:
                shutil.copyfile(local_path_of(physical), local)
            except FileNotFoundError as e:
                raise NotFound(f"No artifact at {uri!r}; `kiln artifacts ls` lists what is stored.") from e
            return local
        with self._fs(uri) as (fs, path):
            fs.get_file(path, str(local))
        return local

    def get_tree(self, uri: str, local_dir: Path) -> list[Path]:
        """Download the object at ``uri``, or every object under the prefix, into ``local_dir``."""
        local_dir.mkdir(parents=True, exist_ok=True)
        entries = self.list_objects(uri, recursive=True)
        if len(entries) == 1 and not entries[0].is_dir and entries[0].uri.rstrip("/") == uri.rstrip("/"):
            return [self.get_file(uri, local_dir / posixpath.basename(uri.rstrip("/")))]
        prefix = uri.rstrip("/") + "/"
        written = []
        for entry in entries:
            if entry.is_dir:
                continue
            relative = (
                entry.uri[len(prefix) :] if entry.uri.startswith(prefix) else posixpath.basename(entry.uri)
            )
            written.append(self.get_file(entry.uri, local_dir / relative))
        return written

    def delete(self, uri: str) -> None:
        with self._fs(uri) as (fs, path):
            if fs.exists(path):
                fs.rm(path, recursive=True)


def _name_too_long(uri: str) -> ValidationError:
    return ValidationError(f"cannot store {uri!r}: a name on its path is too long here; use shorter names")


def _copy_file(source: IO[bytes], out: IO[bytes]) -> None:
    """All of ``source`` to ``out``: in the kernel where it can, else through a buffer."""
    out.flush()
    try:
        while os.copy_file_range(source.fileno(), out.fileno(), COPY_RANGE_BYTES):
            pass
    except (AttributeError, OSError):  # no copy_file_range (macOS), or across filesystems
        # The kernel moved both files' offsets past what it copied: go on from there.
        source.seek(os.lseek(source.fileno(), 0, os.SEEK_CUR))
        out.seek(os.lseek(out.fileno(), 0, os.SEEK_CUR))
        shutil.copyfileobj(source, out, COPY_CHUNK_BYTES)


class _Concatenation(io.RawIOBase):
    """The objects ``uris`` read one after another as one stream, one open at a time."""

    def __init__(self, store: ArtifactStore, uris: list[str]) -> None:
        self._store = store
        self._uris = iter(uris)
        self._opened: AbstractContextManager[IO[bytes]] | None = None
        self._stream: IO[bytes] | None = None

    def readable(self) -> bool:
        return True

    def readinto(self, target: Any) -> int:
        view = memoryview(target).cast("B")
        while True:
            if self._stream is None:
                uri = next(self._uris, None)
                if uri is None:
                    return 0
                self._opened = self._store.open(uri)
                self._stream = self._opened.__enter__()
            data = self._stream.read(len(view))
            if data:
                view[: len(data)] = data
                return len(data)
            self._close_current()

    def _close_current(self) -> None:
        if self._opened is not None:
            self._opened.__exit__(None, None, None)
        self._opened = None
        self._stream = None

    def close(self) -> None:
        self._close_current()
        super().close()


def _info_of(uri: str, info: dict[str, Any]) -> ArtifactInfo:
    """An ``ArtifactInfo`` from an fsspec info dict (local and s3fs spell their fields differently)."""
    is_dir = info.get("type") == "directory"
    size = 0 if is_dir else int(info.get("size") or 0)  # a folder's st_size is no content size
    modified: datetime | None = None
    if isinstance(info.get("mtime"), (int, float)):
        modified = datetime.fromtimestamp(info["mtime"], tz=timezone.utc)
    elif isinstance(info.get("LastModified") or info.get("created"), datetime):  # s3fs, memory
        modified = (info.get("LastModified") or info["created"]).astimezone(timezone.utc)
    # "created" only where there is no mtime (fsspec's memory files): a local file's is its ctime,
    # which the rename into place changes.
    stamp = [str(info.get(k, "")) for k in ("ino", "mtime", "ETag", "LastModified")]
    if "mtime" not in info:
        stamp.append(str(info.get("created", "")))
    return ArtifactInfo(uri, size, is_dir, modified, "/".join([*stamp, str(size)]))


def _name_taken(target: Path) -> str:
    if target.is_dir():
        return "a folder of that name exists"
    for parent in target.parents:
        if parent.exists() and not parent.is_dir():
            return f"{parent.name!r} on its path is an object, not a folder"
    return "its name is taken"


def _child_uri(uri: str, path: str, name: str, protocol: str) -> str:
    """The URI of ``name`` (a filesystem path under ``path``) spelled like the ``uri`` it was listed from.

    Rebuilding it from the protocol instead would change the spelling (``memory:///x`` for
    ``memory://x``, ``%20`` for a space), and the listed URIs would neither open nor share a prefix
    with the URI that was listed.
    """
    base = path.rstrip("/")
    if base and name.startswith(base + "/"):
        return uri.rstrip("/") + name[len(base) :]
    if protocol in ("file", "local"):
        return f"file://{name}"
    return f"{protocol}://{name.lstrip('/')}"
