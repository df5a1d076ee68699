"""Packing the user's code into ``sourcedir.tar.gz`` the way SageMaker's SDK does (contract §1.5)."""

from __future__ import annotations

import io
import tarfile
from collections.abc import Sequence
from pathlib import Path

from kiln.errors import ValidationError

__all__ = ["is_uri", "pack_source", "resolve_entry_point"]

SKIPPED_NAMES = frozenset(
    {"__pycache__", ".git", ".venv", ".ipynb_checkpoints", ".mypy_cache", ".pytest_cache"}
)


def is_uri(path: str | None) -> bool:
    """True for an uploaded location (``s3://…``, ``file://…``) rather than a local folder."""
    return path is not None and "://" in path


def resolve_entry_point(entry_point: str, source_dir: str | None) -> tuple[Path, str]:
    """(the file on disk, its path relative to the source root); errors name what is missing."""
    if entry_point.startswith(("s3://", "file://")):
        raise ValidationError(f"entry_point {entry_point!r} must be a local file, not a URI")
    if source_dir is not None:
        root = Path(source_dir).expanduser()
        if not root.is_dir():
            raise ValidationError(f"source_dir {source_dir!r} is not a folder")
        path = root / entry_point
        if not path.exists():
            raise ValidationError(f"entry_point {entry_point!r} was not found in source_dir {str(root)!r}")
        return path, Path(entry_point).as_posix()
    path = Path(entry_point).expanduser()
    if not path.exists():
        raise ValidationError(
            f"entry_point {entry_point!r} was not found (looked at {str(path.resolve())!r})"
        )
    return path, path.name


def _add_tree(tar: tarfile.TarFile, folder: Path, arc_root: str) -> None:
    for path in sorted(folder.rglob("*")):
        if any(part in SKIPPED_NAMES for part in path.relative_to(folder).parts):
            continue
        arcname = (
            f"{arc_root}/{path.relative_to(folder).as_posix()}"
            if arc_root
            else path.relative_to(folder).as_posix()
        )
        tar.add(path, arcname=arcname, recursive=False)


def pack_source(entry_point: str, source_dir: str | None, dependencies: Sequence[str] = ()) -> bytes:
    """``source_dir`` (or just the entry point) plus each dependency folder under its own name."""
    path, _ = resolve_entry_point(entry_point, source_dir)
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz", compresslevel=6) as tar:
        if source_dir is not None:
            _add_tree(tar, Path(source_dir).expanduser(), "")
        else:
            tar.add(path, arcname=path.name)
        for dependency in dependencies:
            dep = Path(dependency).expanduser()
            if not dep.exists():
                raise ValidationError(f"dependency {dependency!r} does not exist")
            if dep.is_dir():
                _add_tree(tar, dep, dep.name)
            else:
                tar.add(dep, arcname=dep.name)
    return buffer.getvalue()
