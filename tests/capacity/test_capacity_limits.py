"""Account limits through the server: a request over the limit is refused at once in SageMaker's words
(HTTP 429, nothing stored), and `kiln limits` and GET /limits show limits and current use."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator

import httpx
import pytest
from capacity_support import Jobs, capacity_server

from conftest import ON_EVERY_BACKEND, RunningServer
from kiln.errors import ResourceLimitExceeded

pytestmark = ON_EVERY_BACKEND  # PostgreSQL + S3 as well as SQLite + a folder (conftest.py)

CONFIG = """
[limits.training]
"ml.c5.xlarge" = 0
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    running = capacity_server(tmp_path_factory.mktemp("limits-home"), CONFIG)
    yield running
    running.stop()


@pytest.fixture
def jobs(server: RunningServer, write_script) -> Iterator[Jobs]:
    session = server.session()
    yield Jobs(session, write_script("import time\nprint('holding', flush=True)\ntime.sleep(60)"))
    session.close()


def _kiln(server: RunningServer, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "kiln.cli.main", *args],
        env=server.env(),
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_a_second_p2_training_job_is_refused_at_once_in_sagemakers_words(
    server: RunningServer, jobs: Jobs
) -> None:
    jobs.create("limit-p2-first", "ml.p2.xlarge")  # SageMaker's default: 1 instance for training

    response = httpx.post(
        f"{server.url}/api/v1/training-jobs", json=jobs.request("limit-p2-second", "ml.p2.xlarge"), timeout=30
    )
    assert response.status_code == 429
    assert response.json()["error"] == "ResourceLimitExceeded"
    assert response.json()["message"].startswith(
        "The account-level service limit 'ml.p2.xlarge for training job usage' is 1 Instances, with "
        "current utilization of 1 Instances and a request delta of 1 Instances."
    )
    with pytest.raises(ResourceLimitExceeded, match=r"\[limits.training\] \"ml.p2.xlarge\" = 2"):
        jobs.create("limit-p2-second", "ml.p2.xlarge")
    names = [j["TrainingJobName"] for j in jobs.session.client.list_training_jobs()]
    assert "limit-p2-second" not in names

    limits = jobs.session.client.call("GET", "/limits")
    p2 = {e["Use"]: e for e in limits["Limits"] if e["InstanceType"] == "ml.p2.xlarge"}
    assert p2["training"]["Limit"] == 1
    assert p2["training"]["CurrentUtilization"] == 1
    assert p2["endpoint"]["CurrentUtilization"] == 0
    general = next(e for e in limits["Limits"] if e["Name"] == "ml.m5.large for training job usage")
    assert general["Limit"] == 20

    shown = _kiln(server, "limits")
    assert shown.returncode == 0, shown.stderr
    rows = {line.split()[1]: line for line in shown.stdout.splitlines() if "ml." in line}
    assert "1 / 1" in rows["ml.p2.xlarge"]
    assert "0 / 0" in rows["ml.c5.xlarge"]  # limited to 0 by config.toml
    assert "CPUs" in shown.stdout

    jobs.session.stop_training_job("limit-p2-first")
    assert jobs.wait("limit-p2-first")["TrainingJobStatus"] == "Stopped"
    jobs.create("limit-p2-second", "ml.p2.xlarge")  # the instance is free again
    jobs.session.stop_training_job("limit-p2-second")
    jobs.wait("limit-p2-second")


def test_a_limit_of_zero_refuses_every_request_and_the_cli_says_so(server: RunningServer, jobs: Jobs) -> None:
    with pytest.raises(ResourceLimitExceeded) as refused:
        jobs.create("limit-zero", "ml.c5.xlarge")
    assert str(refused.value).startswith(
        "The account-level service limit 'ml.c5.xlarge for training job usage' is 0 Instances, with "
        "current utilization of 0 Instances and a request delta of 1 Instances."
    )
    assert "limit-zero" not in [j["TrainingJobName"] for j in jobs.session.client.list_training_jobs()]
    # `kiln train` goes through the same check, and says so in one Error: line.
    script = os.path.join(os.path.dirname(__file__), "capacity_support.py")
    trained = _kiln(server, "train", script, "--instance-type", "ml.c5.xlarge", "--name", "limit-zero-cli")
    assert trained.returncode == 1
    assert trained.stderr.startswith(
        "Error: The account-level service limit 'ml.c5.xlarge for training job usage'"
    )


def test_unknown_instance_types_name_the_known_ones(server: RunningServer, jobs: Jobs) -> None:
    response = httpx.post(
        f"{server.url}/api/v1/training-jobs", json=jobs.request("limit-unknown", "ml.x9.mega"), timeout=30
    )
    assert response.status_code == 400
    message = response.json()["message"]
    assert "InstanceType 'ml.x9.mega' is not a known instance type" in message
    assert "ml.m5.large" in message
    assert "`kiln instance-types`" in message
    listed = json.loads(_kiln(server, "instance-types", "--json").stdout)["InstanceTypes"]
    m5 = next(t for t in listed if t["InstanceType"] == "ml.m5.large")
    assert (m5["VCpus"], m5["MemoryGiB"], m5["Gpus"], m5["PricePerHour"], m5["Source"]) == (
        2,
        8,
        0,
        0.115,
        "catalog",
    )
    assert next(t for t in listed if t["InstanceType"] == "local")["Source"] == "local"
