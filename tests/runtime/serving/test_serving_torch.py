"""An endpoint instance serving a TorchScript CNN with Kiln's default PyTorch handlers."""

from __future__ import annotations

import asyncio
import io
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from serving_instances import Instance, launcher, write_module
from serving_models import MNIST_SHAPE, build_cnn

from kiln.runtime.serving.default_handlers import ModelLoadError, load_default_model

torch = pytest.importorskip("torch")

CONCURRENT_REQUESTS = 64
PAYLOAD_LIMIT_BYTES = 1024 * 1024  # SAGEMAKER_MAX_PAYLOAD_IN_MB=1 below


@pytest.fixture(scope="module")
def module_tmp(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("serving-torch")


@pytest.fixture(scope="module")
def launch(module_tmp: Path) -> Iterator[Callable[..., Instance]]:
    with launcher(module_tmp) as start:
        yield start


@pytest.fixture(scope="module")
def cnn(module_tmp: Path) -> tuple[Path, Any]:
    model_dir = module_tmp / "cnn"
    return model_dir, build_cnn(model_dir)


@pytest.fixture(scope="module")
def instance(cnn: tuple[Path, Any], launch: Callable[..., Any]) -> Any:
    # Batching "on" plus a generous delay: the concurrency test must see merged calls.
    env = {"KILN_BATCHING": "on", "SAGEMAKER_MAX_PAYLOAD_IN_MB": "1", "KILN_MAX_BATCH_DELAY_MS": "5"}
    return launch(cnn[0], env=env)


@pytest.fixture(scope="module")
def client(instance: Any) -> Any:
    with instance.client() as c:
        yield c


def expected(net: Any, image: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        return net(torch.from_numpy(image.astype(np.float32))).numpy()


def image(seed: int) -> np.ndarray:
    return np.random.default_rng(seed).random(MNIST_SHAPE, dtype=np.float32).round(3)


def assert_ok(response: httpx.Response) -> None:
    assert response.status_code == 200, response.text


def test_ready_line_and_ping(instance: Any, client: httpx.Client) -> None:
    assert instance.stdout.startswith(f"KILN_SERVING_READY port={instance.port}")
    response = client.get("/ping")
    assert response.status_code == 200


def test_json_request_gets_the_models_answer(client: httpx.Client, cnn: tuple[Path, Any]) -> None:
    x = image(1)
    response = client.post(
        "/invocations", content=json.dumps(x.tolist()), headers={"content-type": "application/json"}
    )
    assert_ok(response)
    assert response.headers["content-type"] == "application/json"
    np.testing.assert_allclose(np.array(response.json()), expected(cnn[1], x), rtol=1e-4, atol=1e-5)


def test_tf_serving_instances_get_predictions(client: httpx.Client, cnn: tuple[Path, Any]) -> None:
    batch = np.stack([image(2), image(3)])
    response = client.post("/invocations", json={"instances": batch.tolist()})
    assert_ok(response)
    predictions = np.array(response.json()["predictions"])
    np.testing.assert_allclose(predictions, expected(cnn[1], batch), rtol=1e-4, atol=1e-5)


def test_csv_in_csv_out(client: httpx.Client, cnn: tuple[Path, Any]) -> None:
    x = image(4)
    body = "\n".join(",".join(str(v) for v in row) for row in x)
    response = client.post(
        "/invocations", content=body, headers={"content-type": "text/csv", "accept": "text/csv"}
    )
    assert_ok(response)
    assert response.headers["content-type"] == "text/csv"
    answer = np.loadtxt(io.StringIO(response.text), delimiter=",", ndmin=2)
    np.testing.assert_allclose(answer, expected(cnn[1], x), rtol=1e-4, atol=1e-5)


def test_npy_in_npy_out(client: httpx.Client, cnn: tuple[Path, Any]) -> None:
    x = image(5)
    buffer = io.BytesIO()
    np.save(buffer, x)
    headers = {"content-type": "application/x-npy", "accept": "application/x-npy"}
    response = client.post("/invocations", content=buffer.getvalue(), headers=headers)
    assert_ok(response)
    answer = np.load(io.BytesIO(response.content))
    assert answer.shape == (1, 10)
    np.testing.assert_allclose(answer, expected(cnn[1], x), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize(
    ("headers", "body", "status", "says"),
    [
        ({"content-type": "text/plain"}, b"hello", 415, "application/json"),
        ({"content-type": "application/json", "accept": "image/png"}, b"[1]", 415, "ask for one of"),
        ({"content-type": "application/json"}, b"[[1, 2", 400, "not valid JSON"),
        ({"content-type": "application/json"}, b'{"pixels": [1]}', 400, "instances"),
        ({"content-type": "application/json"}, b"[[1, 2, 3]]", 400, "shape (1, 3)"),
        ({"content-type": "application/json"}, b'[["a", "b"]]', 400, "float32"),
    ],
)
def test_bad_request_is_refused_and_the_next_succeeds(
    client: httpx.Client, headers: dict[str, str], body: bytes, status: int, says: str
) -> None:
    response = client.post("/invocations", content=body, headers=headers)
    assert response.status_code == status, response.text
    assert says in response.json()["error"]
    assert_ok(client.post("/invocations", json=image(6).tolist()))


def test_body_over_the_limit_is_413_with_or_without_a_length(client: httpx.Client) -> None:
    oversized = b"[" + b"0," * (PAYLOAD_LIMIT_BYTES // 2) + b"0]"
    response = client.post("/invocations", content=oversized, headers={"content-type": "application/json"})
    assert response.status_code == 413
    assert "limit of 1,048,576 bytes" in response.json()["error"]

    def chunked() -> Any:  # no Content-Length: the limit must hold while streaming
        for _ in range(4):
            yield oversized[: PAYLOAD_LIMIT_BYTES // 2]

    response = client.post("/invocations", content=chunked(), headers={"content-type": "application/json"})
    assert response.status_code == 413
    assert_ok(client.post("/invocations", json=image(7).tolist()))


def test_unknown_route_and_method(client: httpx.Client) -> None:
    assert client.get("/nope").status_code == 404
    response = client.get("/invocations")
    assert response.status_code == 405
    assert "POST /invocations" in response.json()["error"]


def test_concurrent_requests_are_batched_and_each_gets_its_own_answer(
    instance: Any, cnn: tuple[Path, Any]
) -> None:
    images = [image(100 + i) for i in range(CONCURRENT_REQUESTS)]

    async def send_all() -> list[httpx.Response]:
        limits = httpx.Limits(max_connections=CONCURRENT_REQUESTS)
        async with httpx.AsyncClient(base_url=instance.url, timeout=60.0, limits=limits) as client:
            return await asyncio.gather(*(client.post("/invocations", json=x.tolist()) for x in images))

    before = httpx.get(f"{instance.url}/stats").json()
    responses = asyncio.run(send_all())
    for x, response in zip(images, responses, strict=True):
        assert_ok(response)
        np.testing.assert_allclose(np.array(response.json()), expected(cnn[1], x), rtol=1e-4, atol=1e-5)
    stats = httpx.get(f"{instance.url}/stats").json()
    assert stats["requests"] - before["requests"] == CONCURRENT_REQUESTS
    assert stats["largest_merged_call"] > 1, stats
    assert stats["merged_requests"] > before["merged_requests"]
    assert {"input": "float32[28, 28]", "merge": "stack"} in stats["calibrations"]


TENSOR_PREDICT_FN = """
    import torch


    def predict_fn(input_data, model):
        # SageMaker's PyTorch input_fn hands predict_fn a float32 tensor; so must Kiln's.
        assert isinstance(input_data, torch.Tensor), type(input_data)
        with torch.no_grad():
            return {"dtype": str(input_data.dtype), "logits": model(input_data).tolist()}
"""


def test_users_predict_fn_gets_a_float32_tensor(
    cnn: tuple[Path, Any], module_tmp: Path, launch: Callable[..., Any]
) -> None:
    model_dir = module_tmp / "cnn-with-predict-fn"
    model_dir.mkdir()
    (model_dir / "model.pt").write_bytes((cnn[0] / "model.pt").read_bytes())
    write_module(model_dir, TENSOR_PREDICT_FN)
    x = image(8)
    with launch(model_dir).client() as client:
        response = client.post("/invocations", json=x.tolist())
    assert_ok(response)
    assert response.json()["dtype"] == "torch.float32"
    np.testing.assert_allclose(response.json()["logits"], expected(cnn[1], x), rtol=1e-4, atol=1e-5)


def test_pickled_module_loads_when_not_torchscript(tmp_path: Path) -> None:
    net = torch.nn.Sequential(torch.nn.Linear(4, 2)).train()
    torch.save(net, tmp_path / "model.pth")
    loaded = load_default_model(tmp_path)
    assert isinstance(loaded, torch.nn.Sequential)
    assert not loaded.training  # served in eval mode


def test_state_dict_says_how_to_serve_it(tmp_path: Path) -> None:
    torch.save(torch.nn.Linear(4, 2).state_dict(), tmp_path / "model.pt")
    with pytest.raises(ModelLoadError, match="holds a state dict") as caught:
        load_default_model(tmp_path)
    assert "define model_fn(model_dir)" in caught.value.message


def test_two_candidate_model_files_are_ambiguous(tmp_path: Path) -> None:
    (tmp_path / "a.pt").write_bytes(b"")
    (tmp_path / "b.pth").write_bytes(b"")
    with pytest.raises(ModelLoadError, match="Several model files"):
        load_default_model(tmp_path)


def test_a_named_program_that_is_absent_serves_with_the_defaults_and_says_so(
    cnn: tuple[Path, Any], module_tmp: Path, launch: Callable[..., Any]
) -> None:
    """SageMaker's toolkit serves with its default handlers when SAGEMAKER_PROGRAM's module is not in
    code/ (SDK v3's ModelBuilder from a ModelTrainer relies on it); so does Kiln, and its log says so."""
    model_dir = module_tmp / "cnn-program-absent"
    model_dir.mkdir()
    (model_dir / "model.pt").write_bytes((cnn[0] / "model.pt").read_bytes())
    instance = launch(model_dir, env={"SAGEMAKER_PROGRAM": "inference.py"})
    x = image(9)
    with instance.client() as client:
        response = client.post("/invocations", json=x.tolist())
    assert_ok(response)
    np.testing.assert_allclose(response.json(), expected(cnn[1], x), rtol=1e-4, atol=1e-5)
    log = instance.stderr()
    assert "SAGEMAKER_PROGRAM=inference.py but there is no code/inference.py" in log
    assert "serving with the default handlers" in log
