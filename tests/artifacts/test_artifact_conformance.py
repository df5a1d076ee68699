"""The artifact store's contract on every backend at hand: a local folder and fsspec's memory always,
S3 when ``KILN_TEST_ARTIFACT_URL`` names a bucket (CI runs moto's S3 server for it)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from kiln.artifacts import ArtifactStore
from kiln.testing import ARTIFACT_URL_VARIABLE, service_url
from kiln.testing.artifacts import ArtifactStoreConformance


@pytest.fixture(params=["local", "memory", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ArtifactStore]:
    if request.param == "local":
        yield ArtifactStore((tmp_path / "artifacts").as_uri())
        return
    if request.param == "memory":
        root = f"memory://kiln-test-{uuid.uuid4().hex}"  # one memory filesystem per process
    else:
        bucket = service_url(ARTIFACT_URL_VARIABLE)
        if bucket is None:
            pytest.skip(f"no S3 for this run: set {ARTIFACT_URL_VARIABLE} (CI does)")
        root = f"{bucket.rstrip('/')}/kiln-test-{uuid.uuid4().hex}"
    created = ArtifactStore(root)
    yield created
    created.delete(root)


class TestArtifactStore(ArtifactStoreConformance):
    pass
