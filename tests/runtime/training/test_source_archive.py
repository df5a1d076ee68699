"""A training host unpacks sourcedir.tar.gz with Kiln's one unpacker; a bad archive is the user's error."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import pytest

from kiln.artifacts import resolve_store
from kiln.runtime.training.user_code import UserCodeError, fetch_source


def _archive(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def test_a_bad_entry_fails_the_host_naming_it(tmp_path: Path) -> None:
    store = resolve_store(str(tmp_path / "artifacts"))
    uri = store.put_bytes(
        _archive({"train.py": b"", "../../evil.py": b"x"}), "s3://kiln/src/sourcedir.tar.gz"
    )
    code_dir = tmp_path / "opt" / "ml" / "code"
    code_dir.mkdir(parents=True)

    with pytest.raises(UserCodeError, match=r"^ClientError: .*'\.\./\.\./evil\.py' would be written outside"):
        fetch_source(store, uri, code_dir)

    assert list(code_dir.iterdir()) == []
    assert not (tmp_path / "opt" / "evil.py").exists()
    assert not (code_dir.parent / "sourcedir.tar.gz").exists()  # the download is cleaned up


def test_a_good_archive_lands_in_the_code_folder(tmp_path: Path) -> None:
    store = resolve_store(str(tmp_path / "artifacts"))
    uri = store.put_bytes(
        _archive({"train.py": b"print(1)\n", "lib/util.py": b"x = 1\n"}), "s3://kiln/src/s.tar.gz"
    )
    code_dir = tmp_path / "code"

    fetch_source(store, uri, code_dir)

    assert (code_dir / "lib" / "util.py").read_text() == "x = 1\n"
