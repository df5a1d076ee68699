"""Cost: every job's billable seconds and estimated cost at its type's reference price, in describe, in
fit(logs=True)'s closing lines, and in GET /usage and `kiln usage` by type or job and since a date."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tarfile
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import pytest
from capacity_support import capacity_server

import kiln
from conftest import ON_EVERY_BACKEND, RunningServer
from kiln.errors import ValidationError

pytestmark = ON_EVERY_BACKEND  # PostgreSQL + S3 as well as SQLite + a folder (conftest.py)

PRICE = 36.0  # USD per hour: one cent per second, so costs are easy to check

CONFIG = f"""
[instance_types."kiln.priced"]
vcpus = 1
price_per_hour = {PRICE}
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    running = capacity_server(tmp_path_factory.mktemp("usage-home"), CONFIG)
    yield running
    running.stop()


def _kiln_json(server: RunningServer, *args: str) -> dict:  # type: ignore[type-arg]
    done = subprocess.run(
        [sys.executable, "-m", "kiln.cli.main", *args, "--json"],
        env=server.env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)  # type: ignore[no-any-return]


def test_cost_is_shown_by_describe_fit_and_usage(
    server: RunningServer, write_script, capsys: pytest.CaptureFixture[str]
) -> None:
    session = server.session()
    source = write_script("import time\ntime.sleep(1.5)\nprint('trained')")
    estimator = kiln.Estimator(
        "train.py",
        source_dir=str(source),
        instance_type="kiln.priced",
        instance_count=2,
        priority=3,
        base_job_name="priced",
        sagemaker_session=session,
    )
    estimator.fit(logs=True)

    described = estimator.latest_training_job.describe()  # type: ignore[union-attr]
    billable = described["BillableTimeInSeconds"]
    assert billable >= 2 * 1  # two instances, at least a second each
    assert described["PricePerInstanceHour"] == PRICE
    assert described["EstimatedCost"] == pytest.approx(billable / 3600 * PRICE)
    assert described["Priority"] == 3
    printed = capsys.readouterr().out.splitlines()
    assert printed[-1] == (
        f"Billable seconds: {billable}, estimated cost: ${billable / 3600 * PRICE:.4f} "
        "at kiln.priced's reference price"
    )
    assert re.fullmatch(r"Training seconds: \d+", printed[-2])

    name = described["TrainingJobName"]
    by_job = session.client.call("GET", "/usage", params={"by": "job"})
    line = next(u for u in by_job["Usage"] if u["Key"] == name)
    assert line == {
        "Key": name,
        "Kind": "training-job",
        "InstanceType": "kiln.priced",
        "InstanceSeconds": billable,
        "EstimatedCost": pytest.approx(billable / 3600 * PRICE),
    }
    by_type = _kiln_json(server, "usage", "--by", "type")
    priced = next(u for u in by_type["Usage"] if u["Key"] == "kiln.priced")
    assert priced["InstanceSeconds"] >= billable
    assert by_type["TotalEstimatedCost"] >= priced["EstimatedCost"]
    tomorrow = (date.today() + timedelta(days=1)).isoformat()
    assert _kiln_json(server, "usage", "--since", tomorrow)["Usage"] == []
    with pytest.raises(ValidationError, match="since='last week' is not a date"):
        session.client.call("GET", "/usage", params={"since": "last week"})
    with pytest.raises(ValidationError, match="by='host' is not a grouping; use one of: type, job, endpoint"):
        session.client.call("GET", "/usage", params={"by": "host"})
    session.close()


def test_an_endpoint_config_may_name_an_operators_instance_type(
    server: RunningServer, tmp_path: Path
) -> None:
    session = server.session()
    (tmp_path / "model.json").write_text("{}")
    with tarfile.open(tmp_path / "model.tar.gz", "w:gz") as tar:
        tar.add(tmp_path / "model.json", arcname="model.json")
    uri = session.upload_data(tmp_path / "model.tar.gz", key_prefix="operator-type-model")
    session.client.create_model({"ModelName": "operator-typed", "PrimaryContainer": {"ModelDataUrl": uri}})
    variant = {"VariantName": "AllTraffic", "ModelName": "operator-typed", "InitialInstanceCount": 1}

    created = session.client.create_endpoint_config(
        {
            "EndpointConfigName": "on-kiln-priced",
            "ProductionVariants": [{**variant, "InstanceType": "kiln.priced"}],
        }
    )
    assert created["ProductionVariants"][0]["InstanceType"] == "kiln.priced"
    with pytest.raises(
        ValidationError, match=r"InstanceType 'kiln\.unheard-of' is not a known instance type"
    ):
        session.client.create_endpoint_config(
            {
                "EndpointConfigName": "on-unheard-of",
                "ProductionVariants": [{**variant, "InstanceType": "kiln.unheard-of"}],
            }
        )
    session.client.delete_endpoint_config("on-kiln-priced")
    session.client.delete_model("operator-typed")
    session.close()
