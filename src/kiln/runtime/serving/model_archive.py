"""Unpacking ``model.tar.gz`` into the model directory, refusing anything that would land outside it.

SageMaker unpacks ``ModelDataUrl`` into ``/opt/ml/model`` before the container starts. An archive is
user input: a member named ``../x`` or ``/etc/x``, a link pointing out of the directory, or a device
file could overwrite the host's files. Every member is checked before anything is written, so a bad
archive leaves the directory untouched; Python's ``data`` extraction filter checks again on the way.
"""

from __future__ import annotations

import os
import tarfile
from pathlib import Path, PurePosixPath

from kiln.errors import ValidationError

__all__ = ["unpack_model_archive"]

_REBUILD = "rebuild it with paths relative to the model directory: tar -czf model.tar.gz -C <model_dir> ."


def unpack_model_archive(archive: Path, model_dir: Path) -> list[str]:
    """Extract ``archive`` into ``model_dir`` (created if needed); the member names, in archive order.

    Raises ``ValidationError`` for an unreadable archive or an unsafe member, naming it.
    """
    model_dir.mkdir(parents=True, exist_ok=True)
    root = model_dir.resolve()
    try:
        with tarfile.open(archive, mode="r:*") as tar:
            members = tar.getmembers()
            for member in members:
                _check_member(member, root, archive.name)
            if hasattr(tarfile, "data_filter"):  # Python ≥ 3.10.12 / 3.11.4: the stdlib checks too
                tar.extractall(root, members=members, filter="data")
            else:  # pragma: no cover - older interpreters rely on _check_member alone
                tar.extractall(root, members=members)
    except FileNotFoundError:
        raise ValidationError(f"The model archive {archive} does not exist.") from None
    except (tarfile.TarError, EOFError, OSError) as e:
        raise ValidationError(f"{archive.name} is not a readable tar.gz archive ({e}); {_REBUILD}") from e
    return [member.name for member in members]


def _check_member(member: tarfile.TarInfo, root: Path, archive_name: str) -> None:
    name = member.name
    if not (member.isfile() or member.isdir() or member.issym() or member.islnk()):
        raise ValidationError(
            f"{archive_name} member {name!r} is a device, FIFO or other special file; a model archive "
            f"holds only files, directories and links within it; {_REBUILD}"
        )
    target = _inside(root, name)
    if target is None:
        raise ValidationError(
            f"{archive_name} member {name!r} would be written outside the model directory; {_REBUILD}"
        )
    if member.issym() or member.islnk():
        # A symlink's target is relative to its own directory; a hard link's to the archive root.
        base = target.parent if member.issym() else root
        link = member.linkname
        if PurePosixPath(link).is_absolute() or _inside(base, link, root) is None:
            raise ValidationError(
                f"{archive_name} member {name!r} links to {link!r}, outside the model directory; {_REBUILD}"
            )


def _inside(base: Path, relative: str, root: Path | None = None) -> Path | None:
    """``base / relative`` normalised, or None if it is absolute or leaves ``root`` (default: base)."""
    if PurePosixPath(relative).is_absolute() or os.path.isabs(relative):
        return None
    root = root or base
    candidate = Path(os.path.normpath(base / relative))
    if candidate != root and root not in candidate.parents:
        return None
    return candidate
