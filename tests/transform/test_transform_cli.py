"""``kiln transform`` and ``kiln transform-jobs …`` as a user types them; the console's pages of the job."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import httpx
import numpy as np
from tests.transform.transform_support import create_linear_model, predict

from conftest import RunningServer


def kiln(server: RunningServer, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "kiln", *args], env=server.env(), capture_output=True, text=True, timeout=120
    )


def test_transform_then_list_describe_and_logs(server: RunningServer, tmp_path: Path) -> None:
    session = server.session()
    data = f"s3://{session.default_bucket()}/cli-transform"  # on S3 too: the store's own bucket
    model = create_linear_model(session, tmp_path / "model")
    rows = np.arange(30, dtype=float).reshape(10, 3)
    session.client.upload(
        "".join(",".join(str(int(v)) for v in row) + "\n" for row in rows).encode(),
        f"{data}/in/x.csv",
    )
    done = kiln(
        server,
        "transform",
        model,
        "--input",
        f"{data}/in/",
        "--output",
        f"{data}/out",
        "--name",
        "cli-transform",
        "--env",
        "EXTRA=1",
    )
    assert done.returncode == 0, done.stderr
    assert "Transform job cli-transform is Completed" in done.stdout
    out = session.client.download(f"{data}/out/x.csv.out").decode()
    np.testing.assert_allclose([float(v) for v in out.split()], predict(rows))

    listed = kiln(server, "transform-jobs", "list", "--json")
    assert "cli-transform" in [j["TransformJobName"] for j in json.loads(listed.stdout)]
    described = json.loads(kiln(server, "transform-jobs", "describe", "cli-transform").stdout)
    assert described["Environment"] == {"EXTRA": "1"}
    logs = kiln(server, "transform-jobs", "logs", "cli-transform").stdout
    assert "[cli-transform/job]" in logs
    assert "[cli-transform/instance-1]" in logs
    page = httpx.get(f"{server.url}/transform-jobs", timeout=10)
    assert page.status_code == 200
    assert 'href="/transform-jobs/cli-transform"' in page.text
    detail = httpx.get(f"{server.url}/transform-jobs/cli-transform", timeout=10)
    assert detail.status_code == 200
    assert f"{data}/in/" in detail.text
    assert "1 of 1 objects, 10 records" in detail.text
    assert "cli-transform/instance-1" in detail.text
    assert httpx.get(f"{server.url}/transform-jobs/nope", timeout=10).status_code == 404
    missing = kiln(server, "transform-jobs", "describe", "nope")
    assert missing.returncode == 1
    assert "transform-jobs list" in missing.stderr
    session.close()
