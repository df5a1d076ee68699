"""boto3's transfer manager (``upload_file`` / ``download_file``) on large files, through Kiln.

The file is sparse with a marker every MiB, so it is made in an instant, yet any part stored out of
place or twice changes its hash. The 1 GiB case is the issue's; the 50 MB one runs in every pass.
"""

from __future__ import annotations

import hashlib
import time
from pathlib import Path
from typing import Any

import pytest
from boto3.s3.transfer import TransferConfig
from s3_support import s3_endpoint_fixture, s3_fixture  # noqa: F401 (fixtures, by name)

MIB = 1 << 20


def sparse_file(path: Path, size: int) -> str:
    """Write ``size`` bytes (holes, with a numbered marker every MiB); returns the SHA-256."""
    with path.open("wb") as out:
        out.truncate(size)
        for offset in range(0, size, MIB):
            out.seek(offset)
            out.write(f"<MiB {offset // MIB:06d} of {path.name}>".encode())
    return sha256_of(path)


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as source:
        while block := source.read(8 * MIB):
            digest.update(block)
    return digest.hexdigest()


def round_trip(s3: Any, tmp_path: Path, size: int) -> dict[str, float]:
    source = tmp_path / "large.bin"
    expected = sha256_of(source) if source.exists() else sparse_file(source, size)
    config = TransferConfig(multipart_threshold=8 * MIB, multipart_chunksize=8 * MIB, max_concurrency=4)
    started = time.perf_counter()
    s3.upload_file(str(source), "kiln", "transfer/large.bin", Config=config)
    uploaded = time.perf_counter()
    head = s3.head_object(Bucket="kiln", Key="transfer/large.bin")
    assert head["ContentLength"] == size
    assert head["ETag"].endswith(f'-{-(-size // (8 * MIB))}"')  # one ETag part per 8 MiB part
    target = tmp_path / "downloaded.bin"
    s3.download_file("kiln", "transfer/large.bin", str(target), Config=config)
    downloaded = time.perf_counter()
    assert target.stat().st_size == size
    assert sha256_of(target) == expected
    s3.delete_object(Bucket="kiln", Key="transfer/large.bin")
    return {
        "upload_mib_s": size / MIB / (uploaded - started),
        "download_mib_s": size / MIB / (downloaded - uploaded),
    }


def test_transfer_manager_round_trips_50_mb(s3: Any, tmp_path: Path) -> None:
    rates = round_trip(s3, tmp_path, 50 * 1000 * 1000)
    print(
        f"50 MB through Kiln: upload {rates['upload_mib_s']:.0f} MiB/s, download {rates['download_mib_s']:.0f} MiB/s"
    )


@pytest.mark.slow
def test_transfer_manager_round_trips_1_gib(s3: Any, tmp_path: Path) -> None:
    rates = round_trip(s3, tmp_path, 1 << 30)
    print(
        f"1 GiB through Kiln: upload {rates['upload_mib_s']:.0f} MiB/s, download {rates['download_mib_s']:.0f} MiB/s"
    )


def test_upload_fileobj_of_a_small_file_is_one_put(s3: Any, tmp_path: Path) -> None:
    import io

    s3.upload_fileobj(io.BytesIO(b"small"), "kiln", "transfer/small.txt")
    buffer = io.BytesIO()
    s3.download_fileobj("kiln", "transfer/small.txt", buffer)
    assert buffer.getvalue() == b"small"
    assert (
        s3.head_object(Bucket="kiln", Key="transfer/small.txt")["ETag"]
        == f'"{hashlib.md5(b"small").hexdigest()}"'
    )
