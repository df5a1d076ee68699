"""Malformed invocations on a live endpoint: Kiln's decoders answer 400/413 with their reason (never
a 424 blamed on the model), responses over 6 MB are refused, and 2,000 malformed requests leave the
endpoint answering as fast as before."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest
from hosting_fixtures import upload_model
from malformed_load import USER_MARK, VALID_BODY, _tensor_proto, run

import kiln
from conftest import ON_EVERY_BACKEND, RunningServer

pytestmark = ON_EVERY_BACKEND  # PostgreSQL + S3 as well as SQLite + a folder (conftest.py)

INFERENCE = f"""
import numpy as np

def model_fn(model_dir):
    return 2.0

def predict_fn(data, factor):
    try:
        array = np.asarray(data, dtype=np.float64)
        if array.size == 1 and array.flat[0] == 7:
            return np.zeros(4_000_000)  # over 6 MB in any format
        if array.size == 1 and array.flat[0] == -1:
            raise ValueError("minus one is refused")
        return array * factor
    except Exception as e:
        raise RuntimeError(f"{USER_MARK} {{e}}") from e
"""


@pytest.fixture(scope="module")
def endpoint(server: RunningServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    session = server.session()
    folder = tmp_path_factory.mktemp("malformed")
    uri = upload_model(session, folder, {"code/inference.py": INFERENCE})
    predictor = kiln.Model(uri, sagemaker_session=session).deploy(
        initial_instance_count=1, instance_type="local", endpoint_name="malformed-inputs"
    )
    yield predictor.endpoint_name
    predictor.delete_endpoint()


def _post(
    server: RunningServer, name: str, body: bytes, content_type: str = "application/json"
) -> httpx.Response:
    return httpx.post(
        f"{server.url}/endpoints/{name}/invocations",
        content=body,
        headers={"Content-Type": content_type},
        timeout=60,
    )


@pytest.mark.parametrize(
    ("body", "content_type", "status", "reason"),
    [
        (b"[[" + b"9" * 5000 + b"]]", "application/json", 400, "4300 digits"),
        (b"[" * 100_000, "application/json", 400, "nested more than 1024 levels"),
        (b'{"a":' * 100_000, "application/json", 400, "nested more than 1024 levels"),
        (b"[" * 100_000, "application/jsonlines", 400, "nested more than 1024 levels"),
        (_tensor_proto([0, 2**62], []), "application/x-protobuf", 400, "a dimension of"),
        (_tensor_proto([2**28], [1.0]), "application/x-protobuf", 413, "KILN_MAX_DECODED_BYTES"),
    ],
)
def test_bodies_that_broke_the_decoders_are_the_clients_error_with_the_reason(
    server: RunningServer, endpoint: str, body: bytes, content_type: str, status: int, reason: str
) -> None:
    started = time.monotonic()
    answer = _post(server, endpoint, body, content_type)

    assert answer.status_code == status, answer.text
    assert reason in answer.json()["message"]
    assert time.monotonic() - started < 5  # refused before anything large was built
    assert _post(server, endpoint, VALID_BODY).json() == [[2.0, 4.0, 6.0]]


@pytest.mark.parametrize("accept", ["application/json", "application/x-npy", "text/csv"])
def test_a_response_over_6_mb_is_refused_without_holding_up_the_endpoint(
    server: RunningServer, endpoint: str, accept: str
) -> None:
    started = time.monotonic()
    answer = httpx.post(
        f"{server.url}/endpoints/{endpoint}/invocations",
        content=b"[7]",
        headers={"Content-Type": "application/json", "Accept": accept},
        timeout=60,
    )

    assert answer.status_code == 413, answer.text
    assert answer.json()["error"] == "PayloadTooLarge"
    assert "response" in answer.json()["message"]
    assert "6,291,456-byte limit" in answer.json()["message"]
    assert time.monotonic() - started < 5
    assert _post(server, endpoint, VALID_BODY).status_code == 200


def test_a_user_handler_raising_is_the_users_5xx_labelled_as_such(
    server: RunningServer, endpoint: str
) -> None:
    answer = _post(server, endpoint, b"[-1]")

    assert answer.status_code == 424
    assert answer.json()["OriginalStatusCode"] == 500
    assert f"{USER_MARK} minus one is refused" in answer.json()["OriginalMessage"]


@pytest.mark.slow
def test_2000_malformed_invocations_get_no_platform_5xx_and_leave_latency_unchanged(
    server: RunningServer, endpoint: str
) -> None:
    report = run(server.url, endpoint, count=2000, token=server.token)
    print(report.summary())

    assert report.sent == 2000
    assert report.platform_5xx == []
    assert report.statuses[200] + report.statuses[400] + report.statuses[413] + report.statuses[415] > 1500
    assert report.latency_after_ms < 2 * report.latency_before_ms + 10  # about unchanged on a busy machine
