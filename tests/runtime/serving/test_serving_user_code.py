"""Endpoint instances running the user's ``code/inference.py``: SageMaker's handler contract."""

from __future__ import annotations

import asyncio
import json
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from serving_instances import Instance, launcher, make_archive, start_instance, tar_with_member, write_module

from kiln.runtime.serving.ipc import encode_request, read_response

CONTEXT_HANDLERS = """
    import json
    import os
    import time

    in_flight = 0
    most_in_flight = 0


    def model_fn(model_dir, context):
        with open(os.path.join(model_dir, "weights.json")) as f:
            return {"scale": json.load(f)["scale"], "dir_seen": context.system_properties["model_dir"]}


    def input_fn(request_body, request_content_type, context):
        return {"payload": json.loads(request_body), "content_type": request_content_type}


    def predict_fn(input_data, model, context):
        global in_flight, most_in_flight
        in_flight += 1
        most_in_flight = max(most_in_flight, in_flight)
        try:
            if input_data["payload"].get("boom"):
                raise ValueError("boom was requested")
            time.sleep(0.002)
            return {
                "scaled": [v * model["scale"] for v in input_data["payload"]["values"]],
                "attributes": context.custom_attributes,
                "content_type": input_data["content_type"],
                "dir_seen": model["dir_seen"],
                "most_in_flight": most_in_flight,
            }
        finally:
            in_flight -= 1


    def output_fn(prediction, accept, context):
        prediction["accept"] = accept
        return json.dumps(prediction).encode(), "application/vnd.example+json"
"""

TRANSFORM_HANDLER = """
    def model_fn(model_dir):
        return "shout"


    def transform_fn(model, request_body, content_type, accept):
        return request_body.decode().upper() + f" ({content_type} -> {accept})"
"""

# Centring on the whole input is not batch-safe: merged with others, each request's mean changes.
# Inputs of 3 values are doubled instead, which merges fine; one module shows both verdicts.
BATCHABLE_HANDLERS = """
    import time

    batchable = True


    def model_fn(model_dir):
        return None


    def predict_fn(data, model):
        time.sleep(0.003)  # slow enough that concurrent requests queue up behind it
        if data.shape[-1] == 4:
            return data - data.mean()
        return data * 2
"""


@pytest.fixture(scope="module")
def module_tmp(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("serving-user-code")


@pytest.fixture(scope="module")
def launch(module_tmp: Path) -> Iterator[Callable[..., Instance]]:
    with launcher(module_tmp) as start:
        yield start


@pytest.fixture(scope="module")
def context_instance(module_tmp: Path, launch: Callable[..., Any]) -> Any:
    source = module_tmp / "context-source"
    write_module(source, CONTEXT_HANDLERS)
    (source / "weights.json").write_text(json.dumps({"scale": 3}))
    archive = make_archive(source, module_tmp / "context-model.tar.gz")
    return launch(module_tmp / "context-model", model_data=archive)


def test_handlers_with_context_see_the_request(context_instance: Any) -> None:
    headers = {
        "content-type": "application/json",
        "accept": "application/vnd.example+json",
        "x-amzn-sagemaker-custom-attributes": "trace=abc,variant=blue",
    }
    with context_instance.client() as client:
        response = client.post("/invocations", content=json.dumps({"values": [1, 2]}), headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/vnd.example+json"
    answer = response.json()
    assert answer["scaled"] == [3, 6]
    assert answer["attributes"] == "trace=abc,variant=blue"
    assert answer["content_type"] == "application/json"
    assert answer["accept"] == "application/vnd.example+json"
    assert (Path(answer["dir_seen"]) / "code" / "inference.py").is_file()  # unpacked from model.tar.gz


def test_missing_accept_reaches_output_fn_as_the_default(context_instance: Any) -> None:
    with context_instance.client() as client:
        response = client.post("/invocations", json={"values": [1]}, headers={"accept": "*/*"})
    assert response.json()["accept"] == "application/json"


def test_predict_fn_error_is_500_with_traceback_and_the_instance_keeps_serving(context_instance: Any) -> None:
    with context_instance.client() as client:
        response = client.post("/invocations", json={"boom": True})
        assert response.status_code == 500
        body = response.json()
        assert body["error"] == "ValueError: boom was requested"
        assert "Traceback (most recent call last)" in body["traceback"]
        assert "inference.py" in body["traceback"]
        assert client.post("/invocations", json={"values": [5]}).json()["scaled"] == [15]
    assert "boom was requested" in context_instance.stderr()  # the endpoint's log has it too


def test_user_handlers_run_one_request_at_a_time(context_instance: Any) -> None:
    answers = [r.json() for r in context_instance.post_concurrently([{"values": [i]} for i in range(16)])]
    assert [a["scaled"] for a in answers] == [[3 * i] for i in range(16)]
    assert max(a["most_in_flight"] for a in answers) == 1
    stats = context_instance.stats()
    assert stats["max_batch_size"] == 1
    assert stats["merged_requests"] == 0


def test_transform_fn_with_a_custom_program_name(module_tmp: Path, launch: Callable[..., Any]) -> None:
    model_dir = module_tmp / "transform"
    write_module(model_dir, TRANSFORM_HANDLER, name="serve.py")
    instance = launch(model_dir, env={"SAGEMAKER_PROGRAM": "serve.py"})
    with instance.client() as client:
        response = client.post("/invocations", content=b"hello", headers={"content-type": "text/plain"})
    assert response.status_code == 200, response.text
    assert response.text == "HELLO (text/plain -> application/json)"
    assert response.headers["content-type"] == "application/json"


def test_batchable_module_is_calibrated_per_input_shape(module_tmp: Path, launch: Callable[..., Any]) -> None:
    model_dir = module_tmp / "batchable"
    write_module(model_dir, BATCHABLE_HANDLERS)
    instance = launch(model_dir, env={"KILN_MAX_BATCH_DELAY_MS": "5"})
    rng = np.random.default_rng(0)
    inputs = [rng.integers(0, 100, size=4 if i % 2 else 3).tolist() for i in range(48)]

    responses = instance.post_concurrently(inputs)
    assert all(r.status_code == 200 for r in responses), [r.text for r in responses if r.status_code != 200]
    answers = [r.json() for r in responses]
    for values, answer in zip(inputs, answers, strict=True):
        x = np.array(values)
        np.testing.assert_allclose(answer, x - x.mean() if len(values) == 4 else x * 2)
    calibrations = instance.stats()["calibrations"]
    assert {"input": "int64[4]", "merge": "none (not batch-safe)"} in calibrations
    assert {"input": "int64[3]", "merge": "stack"} in calibrations


def test_framed_unix_socket_answers_like_http(module_tmp: Path, launch: Callable[..., Any]) -> None:
    """The Kiln server's private channel (``--ipc-socket``) feeds the same handler chain and batcher."""
    model_dir = module_tmp / "ipc"
    write_module(model_dir, BATCHABLE_HANDLERS)
    inputs = [[i, i + 1, i + 2] for i in range(20)]
    with tempfile.TemporaryDirectory(prefix="kiln-ipc-") as folder:  # AF_UNIX paths must be short
        socket_path = Path(folder) / "instance.sock"
        instance = launch(model_dir, extra_args=["--ipc-socket", str(socket_path)])
        answers = asyncio.run(over_the_socket(socket_path, inputs))

    for request_id, values in enumerate(inputs, start=1):
        status, content_type, body = answers[request_id]
        assert (status, content_type) == (200, "application/json")
        with instance.client() as client:
            assert json.loads(body) == client.post("/invocations", json=values).json()
    status, _, body = answers[99]
    assert status == 415
    assert "application/json" in json.loads(body)["error"]


async def over_the_socket(socket_path: Path, inputs: list[list[int]]) -> dict[int, tuple[int, str, bytes]]:
    """All ``inputs`` sent at once over one connection (ids 1..n), plus one 415 (id 99); the answers."""
    reader, writer = await asyncio.open_unix_connection(str(socket_path))
    for request_id, values in enumerate(inputs, start=1):
        writer.write(encode_request(request_id, "application/json", "", "", json.dumps(values).encode()))
    writer.write(encode_request(99, "text/plain", "", "", b"hello"))
    answers = {}
    while len(answers) < len(inputs) + 1:
        response = await read_response(reader)
        assert response is not None
        answers[response[0]] = response[1:]
    writer.close()
    return answers


def failed_start(tmp_path: Path, model_dir: Path, **kwargs: Any) -> tuple[str, str]:
    instance = start_instance(tmp_path, model_dir, **kwargs)
    assert instance.port is None, "the instance should not have started"
    assert instance.process.returncode == 3, instance.stderr()
    failed = [line for line in instance.stdout.splitlines() if line.startswith("KILN_SERVING_FAILED ")]
    assert len(failed) == 1
    return failed[0], instance.stderr()


def test_model_fn_error_exits_3_with_the_reason(tmp_path: Path) -> None:
    write_module(
        tmp_path, "import os\n\ndef model_fn(model_dir):\n    raise RuntimeError('weights are corrupt')\n"
    )
    line, stderr = failed_start(tmp_path, tmp_path)
    assert "RuntimeError: weights are corrupt" in line
    assert "code/inference.py, line 4" in line
    assert "Traceback (most recent call last)" in stderr


def test_transform_fn_with_predict_fn_is_refused_with_usage(tmp_path: Path) -> None:
    write_module(
        tmp_path,
        "def model_fn(d):\n    return 1\n\ndef transform_fn(m, b, c, a):\n    return b\n\n"
        "def predict_fn(x, m):\n    return x\n",
    )
    line, _ = failed_start(tmp_path, tmp_path)
    assert "defines transform_fn together with predict_fn" in line
    assert "transform_fn(model, request_body, content_type, accept) alone" in line


def test_handler_with_wrong_arguments_is_refused_with_usage(tmp_path: Path) -> None:
    write_module(tmp_path, "def model_fn(d):\n    return 1\n\ndef predict_fn(x):\n    return x\n")
    line, _ = failed_start(tmp_path, tmp_path)
    assert "predict_fn takes 1 argument(s)" in line
    assert "def predict_fn(input_data, model, context=None)" in line


def test_no_model_at_all_says_what_to_provide(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("no model here")
    line, _ = failed_start(tmp_path, tmp_path)
    assert "No model file found" in line
    assert "model.pt" in line
    assert "model_fn" in line


def test_archive_escaping_the_model_dir_is_refused(tmp_path: Path) -> None:
    archive = tar_with_member(tmp_path / "evil.tar.gz", "../escaped.txt")
    line, _ = failed_start(tmp_path, tmp_path / "model", model_data=archive)
    assert "outside the model directory" in line
    assert not (tmp_path / "escaped.txt").exists()
