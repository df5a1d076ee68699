"""Endpoints: deploy, predict in every wire format, A/B variants, updates, failures, and clean deletes."""

from __future__ import annotations

import io
import json
import threading
import time
from pathlib import Path

import httpx
import numpy as np
import pytest
from hosting_fixtures import torchscript_model_bytes, upload_model

import kiln
from conftest import ON_EVERY_BACKEND, RunningServer, processes_mentioning, wait_until
from kiln.deserializers import JSONDeserializer, NumpyDeserializer
from kiln.errors import ModelError, UnexpectedStatusException
from kiln.sdk.client import KilnClient
from kiln.serializers import CSVSerializer, JSONSerializer, NumpySerializer, TensorProtoSerializer

pytestmark = ON_EVERY_BACKEND  # PostgreSQL + S3 as well as SQLite + a folder (conftest.py)

torch = pytest.importorskip("torch")

FAILING_PREDICT = """
import json
import torch

def model_fn(model_dir):
    return torch.jit.load(f"{model_dir}/model.pt")

def predict_fn(data, model):
    if float(data.flatten()[0]) < 0:
        raise ArithmeticError("negative pixels are not allowed")
    return model(torch.as_tensor(data, dtype=torch.float32))
"""


@pytest.fixture(scope="module")
def model_uri(server: RunningServer, tmp_path_factory: pytest.TempPathFactory) -> str:
    folder = tmp_path_factory.mktemp("tiny-model")
    return upload_model(server.session(), folder, {"model.pt": torchscript_model_bytes(folder / "build")})


@pytest.fixture(scope="module")
def predictor(server: RunningServer, model_uri: str):  # type: ignore[no-untyped-def]
    session = server.session()
    model = kiln.PyTorchModel(model_uri, sagemaker_session=session)
    predictor = model.deploy(initial_instance_count=1, instance_type="local")
    yield predictor
    predictor.delete_endpoint()


def _reference(model_uri: str, session: kiln.Session, images: np.ndarray) -> np.ndarray:
    import tarfile

    with tarfile.open(fileobj=io.BytesIO(session.read_artifact(model_uri))) as tar:
        data = tar.extractfile("model.pt").read()  # type: ignore[union-attr]
    model = torch.jit.load(io.BytesIO(data))
    with torch.no_grad():
        return model(torch.as_tensor(images, dtype=torch.float32)).numpy()


def test_predictions_in_every_wire_format(predictor: kiln.Predictor, model_uri: str) -> None:
    images = np.random.default_rng(1).random((3, 28, 28), dtype=np.float32)
    expected = _reference(model_uri, predictor.sagemaker_session, images)
    # The PyTorch default: NumPy in, NumPy out.
    assert np.allclose(predictor.predict(images), expected, atol=1e-5)
    assert predictor.last_invoked_variant == "AllTraffic"
    predictor.serializer, predictor.deserializer = JSONSerializer(), JSONDeserializer()
    assert np.allclose(np.array(predictor.predict(images)), expected, atol=1e-5)
    predictor.serializer = TensorProtoSerializer()
    assert np.allclose(np.array(predictor.predict(images)), expected, atol=1e-5)
    predictor.serializer = CSVSerializer()
    assert np.allclose(np.array(predictor.predict(images.reshape(3, 784))), expected, atol=1e-4)
    # TF Serving's request shape gets TF Serving's answer shape.
    predictor.serializer = JSONSerializer()
    answer = predictor.predict({"instances": images[:1].tolist()})
    assert np.allclose(np.array(answer["predictions"]), expected[:1], atol=1e-5)
    predictor.serializer, predictor.deserializer = NumpySerializer(), NumpyDeserializer()


def _post(server: RunningServer, name: str, body: bytes, content_type: str) -> httpx.Response:
    return httpx.post(
        f"{server.url}/endpoints/{name}/invocations",
        content=body,
        headers={"Content-Type": content_type},
        timeout=30,
    )


def test_bad_requests_get_clear_answers_and_the_endpoint_keeps_serving(
    server: RunningServer, predictor: kiln.Predictor
) -> None:
    good = json.dumps(np.zeros((1, 28, 28)).tolist()).encode()
    name = predictor.endpoint_name
    cases = [
        (b"<xml/>", "application/xml", 415, "application/xml"),
        (b"{not json", "application/json", 400, "JSON"),
        (json.dumps([[1, 2, 3]]).encode(), "application/json", 400, "shape"),
        (b"0" * (6 * 1024 * 1024 + 1), "application/json", 413, "6 MB"),
    ]
    for body, content_type, status, fragment in cases:
        answer = _post(server, name, body, content_type)
        assert answer.status_code == status, answer.text
        assert fragment.lower() in answer.json()["message"].lower() or fragment.lower() in answer.text.lower()
        assert _post(server, name, good, "application/json").status_code == 200
    missing = _post(server, "no-such-endpoint", good, "application/json")
    assert missing.status_code == 404
    assert "no-such-endpoint" in missing.json()["message"]


def test_a_failing_predict_fn_is_a_model_error_and_the_instance_keeps_serving(
    server: RunningServer, tmp_path: Path
) -> None:
    session = server.session()
    uri = upload_model(
        session,
        tmp_path / "failing",
        {"model.pt": torchscript_model_bytes(tmp_path / "build"), "code/inference.py": FAILING_PREDICT},
    )
    predictor = kiln.PyTorchModel(uri, sagemaker_session=session).deploy(
        serializer=JSONSerializer(), deserializer=JSONDeserializer()
    )
    try:
        with pytest.raises(ModelError, match="negative pixels are not allowed"):
            predictor.predict(-np.ones((1, 28, 28)))
        answer = _post(
            server,
            predictor.endpoint_name,
            json.dumps((-np.ones((1, 28, 28))).tolist()).encode(),
            "application/json",
        )
        assert answer.status_code == 424
        assert answer.json()["OriginalStatusCode"] == 500
        assert "ArithmeticError" in answer.json()["OriginalMessage"]
        assert len(predictor.predict(np.ones((1, 28, 28)))[0]) == 10
    finally:
        predictor.delete_endpoint()


def test_an_endpoint_whose_model_fn_raises_fails_with_its_message(
    server: RunningServer, tmp_path: Path
) -> None:
    session = server.session()
    uri = upload_model(
        session,
        tmp_path / "broken",
        {
            "code/inference.py": "def model_fn(model_dir):\n    raise RuntimeError('weights file is corrupt')\n"
        },
    )
    with pytest.raises(UnexpectedStatusException, match="weights file is corrupt") as raised:
        kiln.Model(uri, sagemaker_session=session).deploy(
            endpoint_name=f"broken-{tmp_path.name[-8:]}".replace("_", "-")
        )
    assert "Failed" in str(raised.value)


def test_variants_split_traffic_by_weight_and_honour_the_target_header(
    server: RunningServer, model_uri: str, tmp_path: Path
) -> None:
    session = server.session()
    client = session.client
    name = f"ab-{int(time.time() * 1000) % 10**8}"
    client.create_model({"ModelName": f"{name}-m", "PrimaryContainer": {"ModelDataUrl": model_uri}})
    variants = [
        {
            "VariantName": "A",
            "ModelName": f"{name}-m",
            "InitialInstanceCount": 1,
            "InstanceType": "local",
            "InitialVariantWeight": 1,
        },
        {
            "VariantName": "B",
            "ModelName": f"{name}-m",
            "InitialInstanceCount": 1,
            "InstanceType": "local",
            "InitialVariantWeight": 3,
        },
    ]
    client.create_endpoint_config({"EndpointConfigName": name, "ProductionVariants": variants})
    client.create_endpoint(name, name)
    predictor = kiln.Predictor(name, session, serializer=NumpySerializer(), deserializer=NumpyDeserializer())
    session.wait_for_endpoint(name)
    try:
        seen = {"A": 0, "B": 0}
        image = np.zeros((1, 28, 28), dtype=np.float32)
        for _ in range(200):
            predictor.predict(image)
            seen[predictor.last_invoked_variant] += 1  # type: ignore[index]
        assert 25 <= seen["A"] <= 80  # expected 50 of 200
        predictor.predict(image, target_variant="A")
        assert predictor.last_invoked_variant == "A"
        predictor.update_endpoint_weights({"A": 0.0})
        for _ in range(20):
            predictor.predict(image)
            assert predictor.last_invoked_variant == "B"
        description = client.describe_endpoint(name)
        assert {v["VariantName"]: v["CurrentWeight"] for v in description["ProductionVariants"]} == {
            "A": 0.0,
            "B": 3.0,
        }
    finally:
        predictor.delete_endpoint()


def test_update_under_load_loses_no_request_and_delete_leaves_nothing(
    server: RunningServer, model_uri: str, tmp_path: Path
) -> None:
    session = server.session()
    predictor = kiln.PyTorchModel(model_uri, sagemaker_session=session).deploy()
    name = predictor.endpoint_name
    model_name = session.client.describe_endpoint_config(name)["ProductionVariants"][0]["ModelName"]
    session.client.create_endpoint_config(
        {
            "EndpointConfigName": f"{name}-v2",
            "ProductionVariants": [
                {
                    "VariantName": "Blue",
                    "ModelName": model_name,
                    "InitialInstanceCount": 1,
                    "InstanceType": "local",
                }
            ],
        }
    )
    failures: list[str] = []
    variants: list[str] = []
    done = threading.Event()

    def load() -> None:
        worker = kiln.Predictor(
            name, server.session(), serializer=NumpySerializer(), deserializer=NumpyDeserializer()
        )
        while not done.is_set():
            try:
                worker.predict(np.zeros((1, 28, 28), dtype=np.float32))
                variants.append(worker.last_invoked_variant or "")
            except Exception as e:
                failures.append(repr(e))

    threads = [threading.Thread(target=load) for _ in range(4)]
    for thread in threads:
        thread.start()
    time.sleep(0.5)
    session.client.update_endpoint(name, f"{name}-v2")
    wait_until(
        lambda: session.client.describe_endpoint(name)["EndpointConfigName"] == f"{name}-v2", timeout=60
    )
    wait_until(lambda: variants[-20:] == ["Blue"] * 20, timeout=30)
    done.set()
    for thread in threads:
        thread.join()
    assert failures == [], failures[:3]
    assert "AllTraffic" in variants
    description = session.client.describe_endpoint(name)
    assert description["EndpointStatus"] == "InService"
    assert [v["VariantName"] for v in description["ProductionVariants"]] == ["Blue"]
    wait_until(
        lambda: all(
            i["State"] != "Serving"
            for i in session.client.describe_endpoint(name)["Instances"]
            if i["EndpointConfigName"] == name
        ),
        timeout=30,
    )

    model_dir = str(server.home / "models" / model_name / "model")
    assert processes_mentioning(model_dir)  # the new instance serves from the shared model folder
    predictor.delete_endpoint()
    assert _post(server, name, b"[]", "application/json").status_code == 404
    wait_until(lambda: processes_mentioning(model_dir) == [], timeout=30)


def test_a_killed_instance_is_replaced_while_its_sibling_serves(
    server: RunningServer, model_uri: str
) -> None:
    session = server.session()
    predictor = kiln.PyTorchModel(model_uri, sagemaker_session=session).deploy(initial_instance_count=2)
    name = predictor.endpoint_name
    try:
        before = session.client.describe_endpoint(name)["Instances"]
        pids = {p.pid for p in processes_mentioning("kiln.runtime.serving")}
        serving = [i for i in before if i["State"] == "Serving"]
        assert len(serving) == 2
        import psutil

        # Kill the process of the first instance (found by its open port).
        target_port = serving[0]["Port"]
        target = next(
            p
            for p in (psutil.Process(pid) for pid in pids)
            if any(c.laddr.port == target_port for c in p.net_connections())
        )
        target.kill()
        failures = 0
        for _ in range(100):
            try:
                predictor.predict(np.zeros((1, 28, 28), dtype=np.float32))
            except Exception:
                failures += 1
        assert failures <= 2  # at most what the dead instance held
        assert session.client.describe_endpoint(name)["EndpointStatus"] in ("InService", "Updating")
        wait_until(
            lambda: (
                sum(i["State"] == "Serving" for i in session.client.describe_endpoint(name)["Instances"]) == 2
            ),
            timeout=60,
        )
        logs = session.client.endpoint_logs(name)
        assert any("Model loaded" in line for entry in logs for line in entry["Lines"])
    finally:
        predictor.delete_endpoint()


def test_endpoints_hold_capacity_and_a_request_over_the_limit_is_refused(
    server: RunningServer, model_uri: str
) -> None:
    from kiln.errors import ResourceLimitExceeded

    session = server.session()
    client = session.client
    name = f"limit-{int(time.time() * 1000) % 10**8}"
    client.create_model({"ModelName": name, "PrimaryContainer": {"ModelDataUrl": model_uri}})
    variants = [
        {"VariantName": "Big", "ModelName": name, "InitialInstanceCount": 21, "InstanceType": "ml.m5.large"}
    ]
    client.create_endpoint_config({"EndpointConfigName": name, "ProductionVariants": variants})
    with pytest.raises(ResourceLimitExceeded, match=r"ml\.m5\.large for endpoint usage"):
        client.create_endpoint(name, name)
    assert name not in [e["EndpointName"] for e in client.list_endpoints()]


def _endpoint_use(client: KilnClient, instance_type: str) -> int:
    limits = client.call("GET", "/limits")["Limits"]
    return sum(
        entry["CurrentUtilization"]
        for entry in limits
        if entry["InstanceType"] == instance_type and entry["Use"] == "endpoint"
    )


def test_changing_an_instance_count_resizes_the_capacity_reservation(
    server: RunningServer, model_uri: str
) -> None:
    from kiln.errors import ResourceLimitExceeded

    client = server.client()
    name = f"resize-{int(time.time() * 1000) % 10**8}"
    client.create_model({"ModelName": name, "PrimaryContainer": {"ModelDataUrl": model_uri}})
    variants = [
        {"VariantName": "Main", "ModelName": name, "InitialInstanceCount": 1, "InstanceType": "ml.m5.large"}
    ]
    client.create_endpoint_config({"EndpointConfigName": name, "ProductionVariants": variants})
    client.create_endpoint(name, name)
    try:
        wait_until(lambda: client.describe_endpoint(name)["EndpointStatus"] == "InService", timeout=120)
        held = _endpoint_use(client, "ml.m5.large")
        assert held >= 1

        # Over the limit (20 ml.m5.large for endpoints): refused, and nothing changes.
        with pytest.raises(ResourceLimitExceeded, match="request delta of 20 Instances"):
            client.update_endpoint_weights_and_capacities(
                name, [{"VariantName": "Main", "DesiredInstanceCount": 21}]
            )
        assert client.describe_endpoint(name)["EndpointStatus"] == "InService"
        assert _endpoint_use(client, "ml.m5.large") == held

        client.update_endpoint_weights_and_capacities(
            name, [{"VariantName": "Main", "DesiredInstanceCount": 2}]
        )
        assert _endpoint_use(client, "ml.m5.large") == held + 1  # the reservation follows at once
        wait_until(
            lambda: (
                sum(i["State"] == "Serving" for i in client.describe_endpoint(name)["Instances"]) == 2
                and client.describe_endpoint(name)["EndpointStatus"] == "InService"
            ),
            timeout=120,
        )
        client.update_endpoint_weights_and_capacities(
            name, [{"VariantName": "Main", "DesiredInstanceCount": 1}]
        )
        assert _endpoint_use(client, "ml.m5.large") == held
        wait_until(lambda: client.describe_endpoint(name)["EndpointStatus"] == "InService", timeout=120)
    finally:
        client.delete_endpoint(name)
    assert _endpoint_use(client, "ml.m5.large") == held - 1
