"""The artifact store's disk is full: the job that cannot upload its model fails with that reason,
and nothing in the store is corrupted (no half-written object, no leftover temporary file, what was
stored before reads back the same). The store is a 2 MiB tmpfs, which needs root to mount."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

import kiln
from conftest import start_server

BIG_MODEL = """
import os
with open(os.path.join(os.environ["SM_MODEL_DIR"], "weights.bin"), "wb") as f:
    f.write(os.urandom(4 * 1024 * 1024))  # random: model.tar.gz stays 4 MiB, over the 2 MiB store
print("saved", flush=True)
"""


@pytest.fixture
def small_store(tmp_path: Path) -> Iterator[Path]:
    mount_point = tmp_path / "store"
    mount_point.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mount_point)], capture_output=True, text=True
    )
    if mounted.returncode != 0:
        pytest.skip(
            f"a full disk needs a small tmpfs, and mounting one was refused: {mounted.stderr.strip()}"
        )
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], check=False)


def test_a_full_store_fails_the_job_with_that_reason_and_corrupts_nothing(
    tmp_path: Path, small_store: Path, write_script
) -> None:
    server = start_server(tmp_path / "home", extra_env={"KILN_ARTIFACT_URL": small_store.as_uri()})
    try:
        session = server.session()
        kept = session.upload_bytes(b"stored before the disk filled", f"{session.bucket_uri()}/kept/a.txt")
        estimator = kiln.Estimator(
            "train.py", source_dir=str(write_script(BIG_MODEL)), sagemaker_session=session
        )

        with pytest.raises(kiln.errors.UnexpectedStatusException):
            estimator.fit(job_name="store-full", logs=False)

        description = session.describe_training_job("store-full")
        assert description["TrainingJobStatus"] == "Failed"
        assert "the artifact store is full (No space left on device)" in description["FailureReason"]
        leftovers = [p for p in small_store.rglob("*") if p.name.startswith(".kiln-tmp-")]
        assert leftovers == []
        assert not [p for p in small_store.rglob("model.tar.gz")]  # no half-written model
        assert session.read_artifact(kept) == b"stored before the disk filled"
        session.close()
    finally:
        server.stop()
