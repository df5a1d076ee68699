"""Unpacking model.tar.gz: everything lands inside the model directory, or nothing is written."""

from __future__ import annotations

import tarfile
from pathlib import Path

import pytest
from serving_instances import make_archive, tar_with_member

from kiln.errors import ValidationError
from kiln.runtime.serving.model_archive import unpack_model_archive


def test_archive_unpacks_into_the_model_dir(tmp_path: Path) -> None:
    source = tmp_path / "source"
    (source / "code").mkdir(parents=True)
    (source / "model.pt").write_bytes(b"weights")
    (source / "code" / "inference.py").write_text("x = 1\n")
    archive = make_archive(source, tmp_path / "model.tar.gz")
    names = unpack_model_archive(archive, tmp_path / "model")
    assert set(names) == {"code", "code/inference.py", "model.pt"}
    assert (tmp_path / "model" / "model.pt").read_bytes() == b"weights"
    assert (tmp_path / "model" / "code" / "inference.py").read_text() == "x = 1\n"


@pytest.mark.parametrize(
    ("member", "link_to", "says"),
    [
        ("../escaped.txt", None, "outside the model directory"),
        ("code/../../escaped.txt", None, "outside the model directory"),
        ("/tmp/absolute.txt", None, "outside the model directory"),
        ("innocent", "/etc/passwd", "links to '/etc/passwd'"),
        ("code/link", "../../escaped.txt", "outside the model directory"),
    ],
)
def test_member_escaping_the_model_dir_is_refused(
    tmp_path: Path, member: str, link_to: str | None, says: str
) -> None:
    archive = tar_with_member(tmp_path / "evil.tar.gz", member, link_to=link_to)
    with pytest.raises(ValidationError, match=says) as caught:
        unpack_model_archive(archive, tmp_path / "model")
    assert "tar -czf model.tar.gz -C" in caught.value.message  # says how to build it right
    assert list((tmp_path / "model").iterdir()) == []  # checked before anything is written
    assert not (tmp_path / "escaped.txt").exists()


def test_link_within_the_archive_is_fine(tmp_path: Path) -> None:
    archive = tmp_path / "links.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        (tmp_path / "model.pt").write_bytes(b"w")
        tar.add(tmp_path / "model.pt", arcname="model.pt")
        info = tarfile.TarInfo("code/model-link.pt")
        info.type = tarfile.SYMTYPE
        info.linkname = "../model.pt"
        tar.addfile(info)
    unpack_model_archive(archive, tmp_path / "model")
    assert (tmp_path / "model" / "code" / "model-link.pt").read_bytes() == b"w"


def test_not_an_archive_says_how_to_build_one(tmp_path: Path) -> None:
    bogus = tmp_path / "model.tar.gz"
    bogus.write_bytes(b"this is not gzip")
    with pytest.raises(ValidationError, match=r"not a readable tar\.gz archive"):
        unpack_model_archive(bogus, tmp_path / "model")
    with pytest.raises(ValidationError, match="does not exist"):
        unpack_model_archive(tmp_path / "missing.tar.gz", tmp_path / "model")


def test_a_root_folder_entry_as_the_sagemaker_sdk_repacks_is_fine(tmp_path: Path) -> None:
    """SageMaker's SDK repacks with tar.add(folder, arcname="/"): the root is stored as ''."""
    source = tmp_path / "source"
    (source / "code").mkdir(parents=True)
    (source / "model.json").write_text("{}")
    (source / "code" / "inference.py").write_text("x = 1\n")
    archive = tmp_path / "model.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(source, arcname="/")
    with tarfile.open(archive) as tar:
        assert tar.getnames()[0] == ""
    unpack_model_archive(archive, tmp_path / "model")
    assert (tmp_path / "model" / "code" / "inference.py").read_text() == "x = 1\n"
    assert (tmp_path / "model" / "model.json").read_text() == "{}"
