"""The server's private channel over TCP (an instance on another node): served behind a secret.

A real instance process listens with ``--ipc-listen``; the server's own link class connects to it,
as the runtime router does for an instance on another Ray node.
"""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from serving_instances import Instance, launcher, start_instance, write_module

from kiln.runtime.serving.ipc import encode_hello, encode_request
from kiln.services.instance_links import InstanceLink, InstanceUnreachable

DOUBLING_HANDLERS = """
    import json

    def model_fn(model_dir):
        return 2

    def input_fn(body, content_type):
        return json.loads(body)

    def predict_fn(data, factor):
        return [x * factor for x in data]

    def output_fn(prediction, accept):
        return json.dumps(prediction)
"""
SECRET = b"s3cr3t-for-this-instance-only"


@pytest.fixture(scope="module")
def module_tmp(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("serving-ipc-tcp")


@pytest.fixture(scope="module")
def launch(module_tmp: Path) -> Iterator[Callable[..., Instance]]:
    with launcher(module_tmp) as launch:
        yield launch


@pytest.fixture(scope="module")
def instance(module_tmp: Path, launch: Callable[..., Instance]) -> tuple[Instance, int, Path]:
    """An instance listening for the server on a loopback TCP port; (it, that port, its secret file)."""
    model_dir = module_tmp / "doubling"
    write_module(model_dir, DOUBLING_HANDLERS)
    secret_file = module_tmp / "ipc-secret"
    secret_file.write_bytes(SECRET)
    secret_file.chmod(0o600)
    started = launch(
        model_dir,
        extra_args=["--ipc-listen", "127.0.0.1:0", "--ipc-secret-file", str(secret_file)],
    )
    assert started.port is not None, started.stderr()
    ready = next(line for line in started.stdout.splitlines() if line.startswith("KILN_SERVING_READY"))
    return started, int(ready.split("ipc_port=", 1)[1].split()[0]), secret_file


def _invoke_all(link: InstanceLink, inputs: list[list[int]]) -> list[tuple[int, str, bytes]]:
    async def run() -> list[tuple[int, str, bytes]]:
        try:
            return await asyncio.gather(
                *(link.invoke("application/json", "", "", json.dumps(values).encode()) for values in inputs)
            )
        finally:
            link.close()

    return asyncio.run(run())


def test_the_right_secret_is_served_like_http(instance: tuple[Instance, int, Path]) -> None:
    started, ipc_port, _ = instance
    inputs = [[i, i + 1] for i in range(10)]

    answers = _invoke_all(InstanceLink("i-1", f"tcp://127.0.0.1:{ipc_port}", SECRET), inputs)

    for values, (status, content_type, body) in zip(inputs, answers, strict=True):
        assert (status, content_type) == (200, "application/json")
        with started.client() as client:
            assert (
                json.loads(body) == client.post("/invocations", json=values).json() == [v * 2 for v in values]
            )


def test_the_secret_file_is_gone_once_the_instance_read_it(instance: tuple[Instance, int, Path]) -> None:
    _, _, secret_file = instance

    assert not secret_file.exists()


@pytest.mark.parametrize("secret", [b"wrong", SECRET + b"x", SECRET[:-1]], ids=["other", "longer", "shorter"])
def test_a_wrong_secret_is_refused_before_any_request_is_sent(
    instance: tuple[Instance, int, Path], secret: bytes
) -> None:
    _, ipc_port, _ = instance

    with pytest.raises(InstanceUnreachable, match="closed the connection at the hello"):
        _invoke_all(InstanceLink("i-1", f"tcp://127.0.0.1:{ipc_port}", secret), [[1, 2]])


def test_a_link_without_a_secret_does_not_even_try(instance: tuple[Instance, int, Path]) -> None:
    _, ipc_port, _ = instance

    with pytest.raises(InstanceUnreachable, match="no secret"):
        _invoke_all(InstanceLink("i-1", f"tcp://127.0.0.1:{ipc_port}"), [[1, 2]])


def _raw_exchange(port: int, payload: bytes) -> bytes:
    """Everything the instance sends back on a raw connection that sent ``payload``, until it closes."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(payload)
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
    return received


def test_requests_without_a_hello_are_never_answered(instance: tuple[Instance, int, Path]) -> None:
    _, ipc_port, _ = instance
    request = encode_request(1, "application/json", "", "", b"[1, 2]")

    # A request frame where the hello belongs: the connection closes without an answer.
    assert _raw_exchange(ipc_port, request * 3) == b""
    # A wrong secret followed by requests sent right behind it: none of them reaches the model.
    assert _raw_exchange(ipc_port, encode_hello(b"guess") + request) == b""


def test_the_instance_keeps_serving_after_refusals(instance: tuple[Instance, int, Path]) -> None:
    _, ipc_port, _ = instance

    [(status, _, body)] = _invoke_all(InstanceLink("i-2", f"tcp://127.0.0.1:{ipc_port}", SECRET), [[21]])

    assert (status, json.loads(body)) == (200, [42])


def test_listening_on_tcp_without_a_secret_file_is_refused_at_start(module_tmp: Path, tmp_path: Path) -> None:
    model_dir = module_tmp / "doubling"

    refused: Any = start_instance(tmp_path, model_dir, extra_args=["--ipc-listen", "127.0.0.1:0"])
    try:
        assert refused.port is None
        assert refused.process.wait(timeout=30) != 0
        assert "--ipc-listen needs --ipc-secret-file" in refused.stderr()
    finally:
        refused.stop()
