"""A transform job holds capacity under its own limit ("transform" in the limits table) and releases it."""

from __future__ import annotations

import textwrap
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from tests.transform.transform_support import create_linear_model, job_request, wait_for_job

import kiln
from conftest import RunningServer, start_server

CONFIG = """
[limits.transform]
"ml.m5.large" = 1
"""


@pytest.fixture(scope="module")
def limited(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    home = tmp_path_factory.mktemp("transform-limits")
    (home / "config.toml").write_text(textwrap.dedent(CONFIG))
    running = start_server(home)
    yield running
    running.stop()


def test_over_the_transform_limit_is_refused_and_a_job_releases_what_it_held(
    limited: RunningServer, tmp_path: Path
) -> None:
    session = limited.session()
    data = f"s3://{session.default_bucket()}/limits"  # on S3 too: the store's own bucket
    client = session.client
    model = create_linear_model(session, tmp_path / "model")
    client.upload(b"1,2,3\n", f"{data}/in/x.csv")
    resources = {"InstanceType": "ml.m5.large", "InstanceCount": 2}
    with pytest.raises(kiln.errors.ResourceLimitExceeded, match=r"ml\.m5\.large for transform job usage"):
        client.create_transform_job(
            job_request("two", model, f"{data}/in/", f"{data}/out", TransformResources=resources)
        )
    with pytest.raises(kiln.errors.NotFound):
        client.describe_transform_job("two")  # refused at once: nothing stored

    resources["InstanceCount"] = 1
    client.create_transform_job(
        job_request("one", model, f"{data}/in/", f"{data}/out", TransformResources=resources)
    )
    limits = httpx.get(f"{limited.url}/api/v1/limits", timeout=10).json()["Limits"]
    entry = next(e for e in limits if e["Name"] == "ml.m5.large for transform job usage")
    assert entry["Limit"] == 1
    job = wait_for_job(client, "one")
    assert job["TransformJobStatus"] == "Completed", job.get("FailureReason")
    assert job["BillableTimeInSeconds"] >= 1
    limits = httpx.get(f"{limited.url}/api/v1/limits", timeout=10).json()["Limits"]
    assert (
        next(e for e in limits if e["Name"] == "ml.m5.large for transform job usage")["CurrentUtilization"]
        == 0
    )
    usage = httpx.get(f"{limited.url}/api/v1/usage", params={"by": "job"}, timeout=10).json()["Usage"]
    line = next(u for u in usage if u["Key"] == "transform/one")
    assert line["Kind"] == "transform-job"
    assert line["InstanceSeconds"] >= 1
    assert line["EstimatedCost"] > 0  # at ml.m5.large's reference price
    by_endpoint = httpx.get(f"{limited.url}/api/v1/usage", params={"by": "endpoint"}, timeout=10).json()[
        "Usage"
    ]
    assert all(u["Kind"] == "endpoint" for u in by_endpoint)
    session.close()
