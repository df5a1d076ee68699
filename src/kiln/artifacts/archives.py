"""Kiln's one tar unpacker, for every archive a user hands it (sourcedir.tar.gz, model.tar.gz, the
inference code of SAGEMAKER_SUBMIT_DIRECTORY).

The stdlib's ``extractall(filter="data")`` is not enough on the Pythons Kiln supports: CVE-2025-4517
and CVE-2025-4330 bypass it with a chain of symlinks longer than PATH_MAX (fixed only in 3.11.13,
3.12.11, 3.13.4). This module writes every member itself, and holds these invariants on any Python:

- a member's name is relative and stays inside the destination once normalised;
- no member is written through a symlink: every folder on its path is a real folder, checked with
  ``lstat``, and files are opened with ``O_NOFOLLOW | O_EXCL``;
- a symlink's target is relative, made of leading ``..`` steps then plain names, and its leading
  steps stay inside the destination; since every link obeys this and links cannot be written
  through, no chain of links resolves outside (no ``realpath``, so no PATH_MAX trick);
- a hard link becomes a copy of a file extracted earlier from the same archive;
- devices, FIFOs and sparse members are refused; permissions lose setuid/setgid and write access
  for group and others, as the ``data`` filter does;
- the expanded size is bounded (an absolute limit and a ratio to the archive's size), checked from
  the member headers before anything is written.

Every check runs over all members before the first byte is written, so a refused archive leaves the
destination as it was.
"""

from __future__ import annotations

import os
import posixpath
import shutil
import stat
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from kiln.config import DEFAULT_MAX_ARCHIVE_BYTES, DEFAULT_MAX_ARCHIVE_RATIO, Settings
from kiln.errors import ValidationError

__all__ = ["DEFAULT_ARCHIVE_LIMITS", "SOURCE_HINT", "ArchiveLimits", "check_archive", "unpack_archive"]

COPY_CHUNK_BYTES = 1 << 20
SOURCE_HINT = "pack the source folder with paths relative to it (the SDK's source_dir does)"
MAX_MEMBERS = 1_000_000  # a million entries: far more than any model or code folder holds


@dataclass(frozen=True)
class ArchiveLimits:
    """How far an archive may expand: ``max_bytes`` in all, and at most ``max_ratio`` times the
    archive's own size once past ``ratio_floor_bytes`` (small archives of sparse data stay fine)."""

    max_bytes: int = DEFAULT_MAX_ARCHIVE_BYTES
    max_ratio: float = DEFAULT_MAX_ARCHIVE_RATIO
    ratio_floor_bytes: int = 256 << 20  # 256 MiB

    @classmethod
    def from_settings(cls, settings: Settings) -> ArchiveLimits:
        return cls(
            max_bytes=settings.max_archive_bytes,
            max_ratio=settings.max_archive_ratio,
            ratio_floor_bytes=min(cls.ratio_floor_bytes, settings.max_archive_bytes),
        )

    def allowed(self, archive_bytes: int) -> int:
        by_ratio = max(self.ratio_floor_bytes, int(archive_bytes * self.max_ratio))
        return min(self.max_bytes, by_ratio)


DEFAULT_ARCHIVE_LIMITS = ArchiveLimits()


def _refuse(what: str, member: str, problem: str, hint: str) -> ValidationError:
    return ValidationError(f"{what} member {member!r} {problem}; {hint}")


def _relative_parts(name: str) -> list[str] | None:
    """The normalised path parts of a member name, or None if it is absolute or leaves the root."""
    if (
        name == ""
    ):  # the root folder itself: tarfile strips the '/' of arcname="/" (SageMaker's SDK repacks so)
        return []
    if name.startswith("/") or os.path.isabs(name):
        return None
    normal = posixpath.normpath(name)
    if normal == ".":
        return []
    if normal == ".." or normal.startswith("../"):
        return None
    return normal.split("/")


def _link_target_inside(parts: list[str], linkname: str) -> bool:
    """A symlink at ``parts`` pointing to ``linkname``: relative, leading ``..`` steps then plain names,
    the steps staying inside the root."""
    if not linkname or linkname.startswith("/") or os.path.isabs(linkname):
        return False
    steps = [p for p in linkname.split("/") if p not in ("", ".")]
    ups = 0
    while ups < len(steps) and steps[ups] == "..":
        ups += 1
    if ".." in steps[ups:]:
        return False  # '..' after a name would step out of whatever that name turns out to be
    return ups <= len(parts) - 1  # the link's own folder is parts[:-1]


def _through_link(parts: list[str], links: set[tuple[str, ...]]) -> bool:
    return any(tuple(parts[:i]) in links for i in range(1, len(parts)))


def _check_members(
    tar: tarfile.TarFile, what: str, hint: str, allowed_bytes: int, folder: str
) -> list[tuple[tarfile.TarInfo, list[str]]]:
    checked: list[tuple[tarfile.TarInfo, list[str]]] = []
    links: set[tuple[str, ...]] = set()  # the symlinks written so far: nothing may pass through one
    folders: set[tuple[str, ...]] = set()
    total = 0
    outside = f"would be written outside {folder}"
    for member in tar:  # lazily: a bomb's first huge header stops the walk before its data is read
        name = member.name
        if len(checked) >= MAX_MEMBERS:
            raise ValidationError(f"{what} holds more than {MAX_MEMBERS:,} members; {hint}")
        if member.issparse() or not (member.isfile() or member.isdir() or member.issym() or member.islnk()):
            raise _refuse(what, name, "is a device, FIFO, sparse or other special file", hint)
        parts = _relative_parts(name)
        if parts is None or (not parts and not member.isdir()):
            raise _refuse(what, name, outside, hint)
        if _through_link(parts, links):
            raise _refuse(what, name, f"{outside} through a symlink earlier in the archive", hint)
        link_out = f"links to {member.linkname!r}, outside {folder}"
        if member.issym() and not _link_target_inside(parts, member.linkname):
            raise _refuse(what, name, link_out, hint)
        if member.islnk():
            source = _relative_parts(member.linkname)
            if not source or _through_link(source, links) or tuple(source) in links:
                raise _refuse(what, name, link_out, hint)
        key = tuple(parts)
        if (member.isdir() and key in links) or (member.issym() and key in folders):
            raise _refuse(what, name, "replaces a folder with a link, or a link with a folder", hint)
        if member.issym():
            links.add(key)
        elif member.isdir():
            folders.add(key)
        else:
            links.discard(key)  # a file of the same name replaces the link (unlinked, not followed)
        if member.isfile():
            total += member.size
            if total > allowed_bytes:
                raise ValidationError(
                    f"{what} expands to more than {allowed_bytes:,} bytes (member {name!r} passes the "
                    "limit); it is refused as a likely archive bomb. Split the archive, or raise "
                    "KILN_MAX_ARCHIVE_BYTES if it is genuine"
                )
        checked.append((member, parts))
    return checked


def _real_folder(root: Path, parts: list[str], *, create: bool) -> Path | None:
    """``root / parts`` as a real folder (each step checked with lstat, never a symlink); None when a
    step is missing and ``create`` is False."""
    current = root
    for part in parts:
        current = current / part
        try:
            mode = os.lstat(current).st_mode
        except FileNotFoundError:
            if not create:
                return None
            os.mkdir(current, 0o755)
            continue
        if not stat.S_ISDIR(mode):
            raise OSError(f"{current.relative_to(root)} is not a real folder")
    return current


def _clear(path: Path) -> None:
    """Make room for a member: a file or link of that name goes (never followed); a folder stays."""
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return
    if stat.S_ISDIR(mode):
        raise OSError(f"{path.name} is already a folder")
    os.unlink(path)


def _write(target: Path, source: IO[bytes], mode: int) -> int:
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, mode)
    with os.fdopen(fd, "wb") as out:
        shutil.copyfileobj(source, out, COPY_CHUNK_BYTES)
        return out.tell()


def _file_mode(member_mode: int) -> int:
    # The data filter's rule: no setuid/setgid/sticky, no write for group and others, owner can read.
    return (member_mode & 0o755) | 0o600


def check_archive(
    archive: Path,
    *,
    what: str | None = None,
    folder: str = "the destination folder",
    hint: str = "rebuild it with paths relative to its folder: tar -czf NAME.tar.gz -C <folder> .",
    limits: ArchiveLimits = DEFAULT_ARCHIVE_LIMITS,
) -> list[str]:
    """The checks of ``unpack_archive`` without writing anything (a submission checks its archive
    early, so a bad one is a 400 rather than a failed job)."""
    what = what or archive.name
    try:
        allowed = limits.allowed(archive.stat().st_size)
        with tarfile.open(archive, mode="r:*") as tar:
            members = _check_members(tar, what, hint, allowed, folder)
    except FileNotFoundError:
        raise ValidationError(f"the archive {archive} does not exist") from None
    except (tarfile.TarError, EOFError, OSError) as e:
        raise ValidationError(f"{what} is not a readable tar.gz archive ({e}); {hint}") from e
    return [member.name for member, _ in members]


def unpack_archive(
    archive: Path,
    destination: Path,
    *,
    what: str | None = None,
    folder: str = "the destination folder",
    hint: str = "rebuild it with paths relative to its folder: tar -czf NAME.tar.gz -C <folder> .",
    limits: ArchiveLimits = DEFAULT_ARCHIVE_LIMITS,
) -> list[str]:
    """Extract ``archive`` (any tar compression) into ``destination``; the member names in order.

    Raises ``ValidationError`` naming the member for an unsafe or oversized archive (nothing is
    written then), and for an archive that cannot be read.
    """
    what = what or archive.name
    destination.mkdir(parents=True, exist_ok=True)
    root = destination.resolve()
    try:
        allowed = limits.allowed(archive.stat().st_size)
        with tarfile.open(archive, mode="r:*") as tar:
            members = _check_members(tar, what, hint, allowed, folder)
            written = 0
            for member, parts in members:
                try:
                    written += _extract(tar, member, parts, root)
                except OSError as e:
                    raise _refuse(what, member.name, f"cannot be written ({e})", hint) from e
                if written > allowed:  # the headers said less than the data held
                    raise ValidationError(f"{what} expands to more than {allowed:,} bytes; {hint}")
    except FileNotFoundError:
        raise ValidationError(f"the archive {archive} does not exist") from None
    except (tarfile.TarError, EOFError, OSError) as e:
        raise ValidationError(f"{what} is not a readable tar.gz archive ({e}); {hint}") from e
    return [member.name for member, _ in members]


def _extract(tar: tarfile.TarFile, member: tarfile.TarInfo, parts: list[str], root: Path) -> int:
    if member.isdir():
        folder = _real_folder(root, parts, create=True)
        assert folder is not None
        os.chmod(folder, _file_mode(member.mode) | 0o700)
        return 0
    parent = _real_folder(root, parts[:-1], create=True)
    assert parent is not None
    target = parent / parts[-1]
    _clear(target)
    if member.issym():
        os.symlink(member.linkname, target)
        return 0
    if member.islnk():
        # A copy, never a link: a hard link to a file outside would make writes here land there.
        source_parts = _relative_parts(member.linkname) or []
        folder = _real_folder(root, source_parts[:-1], create=False)
        if folder is None:
            raise OSError(f"its link target {member.linkname!r} was not extracted before it")
        fd = os.open(folder / source_parts[-1], os.O_RDONLY | os.O_NOFOLLOW)
        with os.fdopen(fd, "rb") as source:
            if not stat.S_ISREG(os.fstat(source.fileno()).st_mode):
                raise OSError(f"its link target {member.linkname!r} is not a file")
            return _write(target, source, _file_mode(member.mode))
    stream = tar.extractfile(member)
    if stream is None:  # pragma: no cover - a regular member always has a stream
        raise OSError("its data cannot be read")
    with stream:
        return _write(target, stream, _file_mode(member.mode))
