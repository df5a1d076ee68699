"""A kill -9 while an endpoint is Creating: the creating thread died with the server, and the endpoint
stayed Creating forever with a half-started instance running. The restarted server stops what was
half-started and creates the instances again: the endpoint serves, with exactly one instance."""

from __future__ import annotations

import signal
import tarfile
from pathlib import Path

import pytest

import kiln
from conftest import processes_mentioning, start_server, wait_until
from kiln.deserializers import JSONDeserializer
from kiln.serializers import JSONSerializer

pytestmark = pytest.mark.chaos

SLOW_TO_LOAD = """
import json, time

def model_fn(model_dir):
    time.sleep(3)  # the endpoint is Creating for at least this long
    return 3

def input_fn(body, content_type):
    return json.loads(body)

def predict_fn(data, factor):
    return [x * factor for x in data]

def output_fn(prediction, accept):
    return json.dumps(prediction), "application/json"
"""


def _instances(home: Path) -> list[object]:
    return [p for p in processes_mentioning(str(home)) if "kiln.runtime.serving" in " ".join(p.cmdline())]


def test_an_endpoint_interrupted_while_creating_is_created_after_the_restart(tmp_path: Path) -> None:
    home = tmp_path / "home"
    server = start_server(home)
    session = server.session()
    code = tmp_path / "model" / "code"
    code.mkdir(parents=True)
    (code / "inference.py").write_text(SLOW_TO_LOAD)
    with tarfile.open(tmp_path / "model.tar.gz", "w:gz") as archive:
        archive.add(code, arcname="code")
    uri = session.upload_data(tmp_path / "model.tar.gz", key_prefix="interrupted")
    kiln.Model(uri, sagemaker_session=session).deploy(1, "local", endpoint_name="interrupted", wait=False)
    wait_until(lambda: _instances(home), timeout=30)  # an instance is loading its model
    assert session.client.describe_endpoint("interrupted")["EndpointStatus"] == "Creating"
    server.stop(signal.SIGKILL)

    server = start_server(home)
    try:
        session = server.session()
        wait_until(
            lambda: session.client.describe_endpoint("interrupted")["EndpointStatus"] != "Creating",
            timeout=60,
        )
        assert session.client.describe_endpoint("interrupted")["EndpointStatus"] == "InService"
        predictor = kiln.Predictor(
            "interrupted", session, serializer=JSONSerializer(), deserializer=JSONDeserializer()
        )
        assert predictor.predict([1, 2]) == [3, 6]
        wait_until(lambda: len(_instances(home)) == 1, timeout=20)  # the half-started one was stopped
        predictor.delete_endpoint()
        wait_until(lambda: not _instances(home), timeout=20)
        session.close()
    finally:
        server.stop()


QUICK = SLOW_TO_LOAD.replace(
    "time.sleep(3)  # the endpoint is Creating for at least this long", "pass"
).replace("return 3", "return 2")


def _upload(session: kiln.Session, tmp_path: Path, name: str, source: str) -> str:
    code = tmp_path / name / "code"
    code.mkdir(parents=True)
    (code / "inference.py").write_text(source)
    with tarfile.open(tmp_path / f"{name}.tar.gz", "w:gz") as archive:
        archive.add(code, arcname="code")
    return session.upload_data(tmp_path / f"{name}.tar.gz", key_prefix=name)


def test_an_update_interrupted_by_a_kill_is_rolled_back_and_the_old_config_keeps_serving(
    tmp_path: Path,
) -> None:
    home = tmp_path / "home"
    server = start_server(home)
    session = server.session()
    predictor = kiln.Model(_upload(session, tmp_path, "quick", QUICK), sagemaker_session=session).deploy(
        1,
        "local",
        endpoint_name="interrupted-update",
        serializer=JSONSerializer(),
        deserializer=JSONDeserializer(),
    )
    slow = kiln.Model(
        _upload(session, tmp_path, "slow", SLOW_TO_LOAD), sagemaker_session=session, name="slow-model"
    )
    slow.create()
    session.client.create_endpoint_config(
        {
            "EndpointConfigName": "slow-config",
            "ProductionVariants": [
                {
                    "VariantName": "AllTraffic",
                    "ModelName": "slow-model",
                    "InitialInstanceCount": 1,
                    "InstanceType": "local",
                }
            ],
        }
    )
    session.client.update_endpoint("interrupted-update", "slow-config")
    wait_until(lambda: len(_instances(home)) == 2, timeout=30)  # the new config's instance is loading
    assert session.client.describe_endpoint("interrupted-update")["EndpointStatus"] == "Updating"
    server.stop(signal.SIGKILL)

    server = start_server(home)
    try:
        session = server.session()
        predictor.sagemaker_session = session
        wait_until(
            lambda: session.client.describe_endpoint("interrupted-update")["EndpointStatus"] == "InService",
            timeout=60,
        )
        described = session.client.describe_endpoint("interrupted-update")
        assert "Update interrupted" in described.get("FailureReason", "")
        assert described["EndpointConfigName"] == "interrupted-update"  # the old config serves
        assert predictor.predict([1, 2]) == [2, 4]
        wait_until(lambda: len(_instances(home)) == 1, timeout=20)  # the half-started instance is gone
        assert session.client.call("GET", "/limits")["Capacity"]["ActiveReservations"] == 1
        predictor.delete_endpoint()
        session.close()
    finally:
        server.stop()
