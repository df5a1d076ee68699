"""An endpoint that was InService answers again after a kill -9 and restart of the server, with no new
deploy: its instances kept running and the restarted server routes to them."""

from __future__ import annotations

import json
import signal
import tarfile
import textwrap
from pathlib import Path

import kiln
from conftest import ON_EVERY_BACKEND, start_server, wait_until
from kiln.deserializers import JSONDeserializer
from kiln.serializers import JSONSerializer

pytestmark = ON_EVERY_BACKEND  # PostgreSQL + S3 as well as SQLite + a folder (conftest.py)

INFERENCE = """
import json, os

def model_fn(model_dir):
    with open(os.path.join(model_dir, "model.json")) as f:
        return json.load(f)

def input_fn(body, content_type):
    return json.loads(body)

def predict_fn(data, model):
    return [x * model["scale"] for x in data]

def output_fn(prediction, accept):
    return json.dumps(prediction)
"""


def _model_archive(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "model.json").write_text(json.dumps({"scale": 3}))
    archive = folder / "model.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(folder / "model.json", arcname="model.json")
    return archive


def test_an_endpoint_answers_again_after_the_server_is_killed_and_restarted(tmp_path: Path) -> None:
    home = tmp_path / "home"
    server = start_server(home)
    session = server.session()
    code = tmp_path / "code"
    code.mkdir()
    (code / "inference.py").write_text(textwrap.dedent(INFERENCE))
    model_uri = session.upload_data(_model_archive(tmp_path / "model"), key_prefix="restart-model")
    model = kiln.Model(model_uri, entry_point="inference.py", source_dir=str(code), sagemaker_session=session)
    predictor = model.deploy(
        initial_instance_count=1,
        instance_type="local",
        endpoint_name="restart-endpoint",
        serializer=JSONSerializer(),
        deserializer=JSONDeserializer(),
    )
    assert predictor.predict([1, 2]) == [3, 6]
    session.close()

    server.stop(signal.SIGKILL)
    server = start_server(home)
    try:
        session = server.session()
        again = kiln.Predictor(
            "restart-endpoint",
            sagemaker_session=session,
            serializer=JSONSerializer(),
            deserializer=JSONDeserializer(),
        )
        answer = wait_until(lambda: _try(again), timeout=30, interval=0.2)
        assert answer == [6, 12]
        assert session.client.describe_endpoint("restart-endpoint")["EndpointStatus"] == "InService"
        again.delete_endpoint()
        session.close()
    finally:
        server.stop()


def _try(predictor: kiln.Predictor) -> list[int] | None:
    try:
        result: list[int] = predictor.predict([2, 4])
        return result
    except kiln.errors.KilnError:
        return None
