"""Unpacking ``model.tar.gz`` into the model directory, refusing anything that would land outside it.

SageMaker unpacks ``ModelDataUrl`` into ``/opt/ml/model`` before the container starts. An archive is
user input: a member named ``../x`` or ``/etc/x``, a link pointing out of the directory, or a device
file could overwrite the host's files. Kiln's one unpacker (``kiln.artifacts.archives``) checks every
member before anything is written, so a bad archive leaves the directory untouched.
"""

from __future__ import annotations

from pathlib import Path

from kiln.artifacts.archives import DEFAULT_ARCHIVE_LIMITS, ArchiveLimits, unpack_archive

__all__ = ["unpack_model_archive"]

_REBUILD = "rebuild it with paths relative to the model directory: tar -czf model.tar.gz -C <model_dir> ."


def unpack_model_archive(
    archive: Path, model_dir: Path, limits: ArchiveLimits = DEFAULT_ARCHIVE_LIMITS
) -> list[str]:
    """Extract ``archive`` into ``model_dir`` (created if needed); the member names, in archive order.

    Raises ``ValidationError`` for an unreadable archive or an unsafe member, naming it.
    """
    return unpack_archive(archive, model_dir, folder="the model directory", hint=_REBUILD, limits=limits)
