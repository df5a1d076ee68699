"""Kiln's one unpacker: one test per attack, each proving nothing lands outside the destination."""

from __future__ import annotations

import gzip
import io
import os
import tarfile
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from kiln.artifacts.archives import ArchiveLimits, unpack_archive
from kiln.errors import ValidationError

Build = Callable[[tarfile.TarFile], None]


def _archive(path: Path, build: Build) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        build(tar)
    return path


def _file(tar: tarfile.TarFile, name: str, data: bytes = b"x") -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    tar.addfile(info, io.BytesIO(data))


def _link(tar: tarfile.TarFile, name: str, target: str, kind: bytes = tarfile.SYMTYPE) -> None:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = target
    tar.addfile(info)


def _folder(tar: tarfile.TarFile, name: str) -> None:
    info = tarfile.TarInfo(name)
    info.type = tarfile.DIRTYPE
    info.mode = 0o755
    tar.addfile(info)


@pytest.fixture
def place(tmp_path: Path) -> tuple[Path, Path]:
    """(the destination, a folder beside it where an escape would land)."""
    outside = tmp_path / "outside"
    outside.mkdir()
    return tmp_path / "work" / "dest", outside


def _everything_under(folder: Path) -> list[Path]:
    return sorted(folder.rglob("*"))


ATTACKS: dict[str, tuple[Build, str]] = {
    "dot-dot": (lambda t: _file(t, "../../outside/pwned"), "outside the destination folder"),
    "dot-dot-inside-name": (lambda t: _file(t, "a/../../../outside/pwned"), "outside the destination"),
    "absolute-path": (lambda t: _file(t, "/tmp/kiln-absolute-pwned"), "outside the destination folder"),
    "symlink-out": (lambda t: _link(t, "innocent", "../../outside"), "links to '../../outside'"),
    "absolute-symlink": (lambda t: _link(t, "innocent", "/etc/passwd"), "links to '/etc/passwd'"),
    "hardlink-out": (
        lambda t: _link(t, "copy", "../../outside/secret", tarfile.LNKTYPE),
        "links to '../../outside/secret'",
    ),
    "absolute-hardlink": (lambda t: _link(t, "copy", "/etc/passwd", tarfile.LNKTYPE), "links to"),
    "symlink-then-file-through-it": (
        lambda t: (_folder(t, "sub"), _link(t, "sub/up", ".."), _file(t, "sub/up/pwned")),
        "through a symlink",
    ),
    "dot-dot-after-a-name-in-a-link": (lambda t: _link(t, "l", "d/../x"), "links to 'd/../x'"),
}


@pytest.mark.parametrize("attack", ATTACKS, ids=list(ATTACKS))
def test_each_attack_is_refused_and_writes_nothing(
    tmp_path: Path, place: tuple[Path, Path], attack: str
) -> None:
    dest, outside = place
    (outside / "secret").write_text("the server's file")
    build, says = ATTACKS[attack]
    archive = _archive(tmp_path / f"{attack}.tar.gz", build)

    with pytest.raises(ValidationError, match=says):
        unpack_archive(archive, dest)

    assert _everything_under(dest) == []  # refused before the first byte
    assert _everything_under(outside) == [outside / "secret"]
    assert not Path("/tmp/kiln-absolute-pwned").exists()


def test_a_device_file_is_refused(tmp_path: Path, place: tuple[Path, Path]) -> None:
    dest, _ = place

    def build(tar: tarfile.TarFile) -> None:
        info = tarfile.TarInfo("null")
        info.type = tarfile.CHRTYPE
        info.devmajor, info.devminor = 1, 3
        tar.addfile(info)

    with pytest.raises(ValidationError, match="'null' is a device, FIFO"):
        unpack_archive(_archive(tmp_path / "dev.tar.gz", build), dest)
    assert _everything_under(dest) == []


def _cve_2025_4517_archive(path: Path) -> Path:
    """The published proof of concept of CVE-2025-4517 / -4330: a chain of symlinks through folders
    with 247-character names, whose resolved path passes PATH_MAX so that ``os.path.realpath`` stops
    resolving and the stdlib's ``data`` filter lets a link out; a file is then written through it."""
    component = "d" * 247
    steps = "abcdefghijklmnop"
    with tarfile.open(path, "w") as tar:
        folder = ""
        for step in steps:
            _folder(tar, os.path.join(folder, component))
            _link(tar, os.path.join(folder, step), component)
            folder = os.path.join(folder, component)
        long_link = os.path.join(*steps, "l" * 254)
        _link(tar, long_link, "../" * len(steps))
        _link(tar, "escape", long_link + "/" + "../" * 3 + "outside")
        _file(tar, "escape/pwned", b"written outside")
    return path


def test_the_cve_2025_4517_symlink_chain_is_refused(tmp_path: Path) -> None:
    dest = tmp_path / "a" / "b" / "dest"
    archive = _cve_2025_4517_archive(tmp_path / "cve.tar")

    with pytest.raises(ValidationError, match=r"through a symlink|links to"):
        unpack_archive(archive, dest)

    assert _everything_under(dest) == []
    assert not list(tmp_path.rglob("pwned"))


def _gzip_bomb(path: Path, expanded_bytes: int) -> Path:
    """A tar.gz of one member of ``expanded_bytes`` zeros, about a thousandth of that on disk: the same
    compressed megabyte of zeros repeated (gzip allows concatenated members), so it builds in no time."""
    block = 1 << 20
    header = tarfile.TarInfo("zeros.bin")
    header.size = expanded_bytes
    zeros = gzip.compress(b"\0" * block, compresslevel=9)
    with path.open("wb") as out:
        out.write(gzip.compress(header.tobuf(format=tarfile.GNU_FORMAT)))
        for _ in range(expanded_bytes // block):
            out.write(zeros)
        out.write(gzip.compress(b"\0" * tarfile.RECORDSIZE))
    return path


def test_a_gigabyte_expansion_of_a_small_archive_is_refused_unwritten(
    tmp_path: Path, place: tuple[Path, Path]
) -> None:
    dest, _ = place
    archive = _gzip_bomb(tmp_path / "bomb.tar.gz", 1 << 30)
    assert archive.stat().st_size < 2 << 20  # about a megabyte on disk

    started = time.monotonic()
    with pytest.raises(ValidationError, match=r"expands to more than 268,435,456 bytes.*'zeros.bin'"):
        unpack_archive(archive, dest)  # Kiln's default limits

    assert time.monotonic() - started < 5  # refused from the header, not after inflating it
    assert _everything_under(dest) == []


def test_many_small_members_past_the_limit_are_refused_too(tmp_path: Path, place: tuple[Path, Path]) -> None:
    dest, _ = place

    def build(tar: tarfile.TarFile) -> None:
        for index in range(40):
            _file(tar, f"part-{index}", b"\0" * 1000)

    limits = ArchiveLimits(max_bytes=30_000, ratio_floor_bytes=30_000)
    with pytest.raises(ValidationError, match="'part-30' passes the limit"):
        unpack_archive(_archive(tmp_path / "parts.tar.gz", build), dest, limits=limits)
    assert _everything_under(dest) == []


def test_links_and_folders_inside_the_archive_unpack(tmp_path: Path, place: tuple[Path, Path]) -> None:
    dest, _ = place

    def build(tar: tarfile.TarFile) -> None:
        _folder(tar, "code")
        _file(tar, "model.pt", b"weights")
        _link(tar, "code/model-link.pt", "../model.pt")
        _link(tar, "code/copy.pt", "model.pt", tarfile.LNKTYPE)
        info = tarfile.TarInfo("code/run.sh")
        info.mode = 0o6777  # setuid, setgid, world-writable: stripped as the stdlib's data filter does
        info.size = 2
        tar.addfile(info, io.BytesIO(b"#!"))

    names = unpack_archive(_archive(tmp_path / "good.tar.gz", build), dest)

    assert names == ["code", "model.pt", "code/model-link.pt", "code/copy.pt", "code/run.sh"]
    assert (dest / "code" / "model-link.pt").read_bytes() == b"weights"
    assert (dest / "code" / "copy.pt").read_bytes() == b"weights"
    assert (dest / "code" / "copy.pt").stat().st_nlink == 1  # a copy, never a hard link
    assert (dest / "code" / "run.sh").stat().st_mode & 0o7777 == 0o755


def test_an_existing_symlink_in_the_destination_is_not_written_through(
    tmp_path: Path, place: tuple[Path, Path]
) -> None:
    dest, outside = place
    dest.mkdir(parents=True)
    (dest / "code").symlink_to(outside)

    with pytest.raises(ValidationError, match=r"'code/x\.py' cannot be written"):
        unpack_archive(_archive(tmp_path / "a.tar.gz", lambda t: _file(t, "code/x.py")), dest)
    assert _everything_under(outside) == []
