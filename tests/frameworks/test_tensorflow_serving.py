"""An endpoint instance serving SavedModels as SageMaker's TensorFlow Serving container does.

One archive holds two models (``alpha`` with two signatures, ``beta``), as a multi-model archive
does; requests use every shape the container's front end rewrites (TF Serving JSON, plain JSON,
JSON Lines, CSV) and Kiln's array types, and concurrent requests are merged into batches.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "runtime" / "serving"))
from serving_instances import Instance, launcher

tf = pytest.importorskip("tensorflow")
pytestmark = pytest.mark.tensorflow

WEIGHTS = np.array([[1.0, 0.0], [0.5, 2.0], [-1.0, 1.0]], dtype=np.float32)


class Alpha(tf.Module):  # type: ignore[misc]
    def __init__(self) -> None:
        super().__init__()
        self.w = tf.Variable(WEIGHTS)

    @tf.function(input_signature=[tf.TensorSpec([None, 3], tf.float32, name="x")])
    def scores(self, x: Any) -> Any:
        return {"scores": tf.matmul(x, self.w)}

    @tf.function(input_signature=[tf.TensorSpec([None, 3], tf.float32, name="x")])
    def both(self, x: Any) -> Any:
        return {"double": x * 2.0, "total": tf.reduce_sum(x, axis=1)}


class Beta(tf.Module):  # type: ignore[misc]
    @tf.function(input_signature=[tf.TensorSpec([None, 3], tf.float32, name="x")])
    def plus(self, x: Any) -> Any:
        return {"plus": x + 100.0}


@pytest.fixture(scope="module")
def module_tmp(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("serving-tensorflow")


@pytest.fixture(scope="module")
def model_dir(module_tmp: Path) -> Path:
    root = module_tmp / "model"
    alpha = Alpha()
    tf.saved_model.save(
        alpha, str(root / "alpha" / "1"), signatures={"serving_default": alpha.scores, "both": alpha.both}
    )
    beta = Beta()
    tf.saved_model.save(beta, str(root / "beta" / "2"), signatures={"serving_default": beta.plus})
    return root


@pytest.fixture(scope="module")
def instance(model_dir: Path, module_tmp: Path) -> Iterator[Instance]:
    with launcher(module_tmp) as launch:
        yield launch(model_dir, env={"KILN_BATCHING": "on", "KILN_MAX_BATCH_DELAY_MS": "5"})


@pytest.fixture(scope="module")
def client(instance: Instance) -> Iterator[httpx.Client]:
    with instance.client() as c:
        yield c


ROWS = [[1.0, 2.0, 3.0], [0.0, -1.0, 4.0]]
SCORES = (np.array(ROWS, dtype=np.float32) @ WEIGHTS).tolist()


def post(client: httpx.Client, body: str | bytes, content_type: str, **headers: str) -> httpx.Response:
    return client.post("/invocations", content=body, headers={"Content-Type": content_type, **headers})


def test_instances_are_answered_with_predictions(client: httpx.Client) -> None:
    response = client.post("/invocations", json={"instances": ROWS})
    assert response.status_code == 200, response.text
    np.testing.assert_allclose(response.json()["predictions"], SCORES, rtol=1e-6)


def test_inputs_are_answered_with_outputs(client: httpx.Client) -> None:
    response = client.post("/invocations", json={"inputs": {"x": ROWS}})
    assert response.status_code == 200, response.text
    np.testing.assert_allclose(response.json()["outputs"], SCORES, rtol=1e-6)


@pytest.mark.parametrize(
    ("body", "content_type", "rows"),
    [
        ("1.0,2.0,3.0\n0.0,-1.0,4.0\n", "text/csv", ROWS),
        ("[1.0, 2.0, 3.0]\n[0.0, -1.0, 4.0]\n", "application/jsonlines", ROWS),
        ("[1.0, 2.0, 3.0]", "application/json", ROWS[:1]),
        ("[[1.0, 2.0, 3.0], [0.0, -1.0, 4.0]]", "application/json", ROWS),
    ],
    ids=["csv", "json-lines", "one-row-json", "rows-json"],
)
def test_bodies_are_rewritten_to_instances_as_the_container_does(
    client: httpx.Client, body: str, content_type: str, rows: list[list[float]]
) -> None:
    response = post(client, body, content_type)
    assert response.status_code == 200, response.text
    expected = (np.array(rows, dtype=np.float32) @ WEIGHTS).tolist()
    np.testing.assert_allclose(response.json()["predictions"], expected, rtol=1e-6)


def test_a_named_signature_with_two_outputs_answers_one_object_per_instance(client: httpx.Client) -> None:
    response = client.post("/invocations", json={"signature_name": "both", "instances": ROWS})
    assert response.status_code == 200, response.text
    predictions = response.json()["predictions"]
    assert [sorted(p) for p in predictions] == [["double", "total"]] * 2
    assert predictions[0]["total"] == pytest.approx(6.0)
    assert predictions[1]["double"] == pytest.approx([0.0, -2.0, 8.0])
    missing = client.post("/invocations", json={"signature_name": "nope", "instances": ROWS})
    assert missing.status_code == 400
    assert "'nope' not found" in missing.text
    assert "both" in missing.text


def test_the_custom_attributes_choose_the_model_and_version(client: httpx.Client) -> None:
    attributes = "X-Amzn-SageMaker-Custom-Attributes"
    beta = client.post("/invocations", json={"instances": ROWS}, headers={attributes: "tfs-model-name=beta"})
    assert beta.status_code == 200, beta.text
    assert beta.json()["predictions"] == [[101.0, 102.0, 103.0], [100.0, 99.0, 104.0]]
    pinned = client.post(
        "/invocations",
        json={"instances": ROWS},
        headers={attributes: "tfs-model-name=beta,tfs-model-version=2"},
    )
    assert pinned.json() == beta.json()
    unknown = client.post(
        "/invocations", json={"instances": ROWS}, headers={attributes: "tfs-model-name=gamma"}
    )
    assert unknown.status_code == 404
    assert "alpha, beta" in unknown.text
    wrong_version = client.post(
        "/invocations",
        json={"instances": ROWS},
        headers={attributes: "tfs-model-name=beta,tfs-model-version=7"},
    )
    assert wrong_version.status_code == 404
    assert "versions 2" in wrong_version.text


def test_npy_bodies_are_the_default_input_and_answer_in_the_accepted_type(client: httpx.Client) -> None:
    import io

    buffer = io.BytesIO()
    np.save(buffer, np.array(ROWS, dtype=np.float32))
    response = post(client, buffer.getvalue(), "application/x-npy", Accept="application/x-npy")
    assert response.status_code == 200, response.text
    np.testing.assert_allclose(np.load(io.BytesIO(response.content)), SCORES, rtol=1e-6)


def test_a_request_that_is_not_tf_serving_json_is_refused_with_the_reason(client: httpx.Client) -> None:
    response = post(client, '{"instances": [[1, 2, 3]], "inputs": {"x": [[1, 2, 3]]}}', "application/json")
    assert response.status_code == 400
    assert "exactly one of" in response.text
    wrong_width = client.post("/invocations", json={"instances": [[1.0, 2.0]]})
    assert wrong_width.status_code == 400
    assert "shape" in wrong_width.text


def test_concurrent_requests_are_merged_into_batches(instance: Instance) -> None:
    payloads: list[Any] = [{"instances": [[float(i), 1.0, 2.0]]} for i in range(24)]
    for _ in range(3):
        replies = instance.post_concurrently(payloads)
        for i, reply in enumerate(replies):
            assert reply.status_code == 200, reply.text
            expected = (np.array([[i, 1.0, 2.0]], dtype=np.float32) @ WEIGHTS).tolist()
            np.testing.assert_allclose(reply.json()["predictions"], expected, rtol=1e-5)
    stats = instance.stats()
    assert stats["largest_merged_call"] >= 2, stats


# handler(data, context) as in SageMaker's TensorFlow Serving guide: it calls TF Serving's REST API.
HANDLER_MODULE = """
import json
import requests

def handler(data, context):
    status = requests.get(context.rest_uri.rsplit(":", 1)[0]).json()
    body = data.read().decode("utf-8")
    response = requests.post(context.rest_uri, data=body)
    if response.status_code != 200:
        return json.dumps({"upstream": response.status_code, "error": response.json()["error"]}), "application/json"
    answer = response.json()
    answer["model"] = context.model_name
    answer["state"] = status["model_version_status"][0]["state"]
    return json.dumps(answer), context.accept_header
"""


def test_a_handler_calls_tf_servings_rest_api_on_loopback(model_dir: Path, module_tmp: Path) -> None:
    import shutil

    with_code = module_tmp / "with-handler"
    shutil.copytree(model_dir, with_code)
    (with_code / "code").mkdir()
    (with_code / "code" / "inference.py").write_text(HANDLER_MODULE)
    with launcher(module_tmp) as launch:
        instance = launch(with_code)
        with instance.client() as client:
            answer = client.post("/invocations", json={"instances": ROWS})
            assert answer.status_code == 200, answer.text
            body = answer.json()
            assert (body["model"], body["state"]) == ("alpha", "AVAILABLE")
            np.testing.assert_allclose(body["predictions"], SCORES, rtol=1e-6)
            beta = client.post(
                "/invocations",
                json={"instances": ROWS},
                headers={"X-Amzn-SageMaker-Custom-Attributes": "tfs-model-name=beta"},
            )
            assert beta.json()["predictions"][0] == [101.0, 102.0, 103.0]
            refused = client.post("/invocations", json={"instances": [[1.0]]})
            assert refused.json()["upstream"] == 400


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("def input_handler(data, context):\n    return data.read()\n", "without output_handler"),
        (
            "def handler(data, context):\n    pass\ndef input_fn(body, content_type):\n    pass\n",
            "together with input_fn",
        ),
    ],
    ids=["half-a-pair", "mixed-styles"],
)
def test_misdefined_tf_serving_hooks_are_refused_when_the_model_loads(
    model_dir: Path, tmp_path: Path, source: str, message: str
) -> None:
    import shutil

    from kiln.runtime.serving.default_handlers import ModelLoadError
    from kiln.runtime.serving.handlers import load_handler_chain
    from kiln.runtime.serving.settings import ServingSettings

    folder = tmp_path / "model"
    shutil.copytree(model_dir, folder)
    (folder / "code").mkdir()
    (folder / "code" / "inference.py").write_text(source)
    with pytest.raises(ModelLoadError, match=message):
        load_handler_chain(folder, ServingSettings())
