"""Clients that outlive the server: a Session, an Estimator, a Predictor and `kiln jobs logs --follow`
made before a `kill -9` of the server keep working once it is started again, on the same address."""

from __future__ import annotations

import contextlib
import io
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

import kiln
from conftest import RunningServer, start_server, wait_until
from kiln.deserializers import JSONDeserializer
from kiln.errors import ServerUnavailable
from kiln.sdk.client import KilnClient
from kiln.serializers import JSONSerializer

TICKS = 60
TICKING = f"""
import os, time
for i in range({TICKS}):
    print(f"tick {{i}}", flush=True)
    time.sleep(0.1)
with open(os.path.join(os.environ["SM_MODEL_DIR"], "factor.txt"), "w") as f:
    f.write("3")
"""

INFERENCE = """
import json, os

def model_fn(model_dir):
    with open(os.path.join(model_dir, "factor.txt")) as f:
        return float(f.read())

def input_fn(body, content_type):
    return json.loads(body)

def predict_fn(data, factor):
    return [x * factor for x in data]

def output_fn(prediction, accept):
    return json.dumps(prediction), "application/json"
"""


def _restart(old: RunningServer) -> RunningServer:
    old.stop(signal.SIGKILL)
    return start_server(old.home)


def _ticks(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith("tick ")]


def test_a_session_estimator_and_cli_made_before_a_kill_9_keep_working_after_the_restart(
    tmp_path: Path, write_script: Any
) -> None:
    server = start_server(tmp_path / "home")
    source = write_script(TICKING)
    (source / "inference.py").write_text(INFERENCE)
    session = server.session()
    estimator = kiln.Estimator(
        entry_point="train.py", source_dir=str(source), instance_type="local", sagemaker_session=session
    )
    printed = io.StringIO()
    failure: list[BaseException] = []

    def fit() -> None:
        try:
            with contextlib.redirect_stdout(printed):
                estimator.fit(logs=True, job_name="outlives-restart")
        except BaseException as e:  # reported by the assertion below
            failure.append(e)

    fitting = threading.Thread(target=fit)
    fitting.start()
    wait_until(lambda: "tick 5" in printed.getvalue(), timeout=60)
    follower = subprocess.Popen(
        [sys.executable, "-m", "kiln", "jobs", "logs", "outlives-restart", "--follow"],
        env=server.env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    wait_until(lambda: "tick 10" in printed.getvalue(), timeout=60)
    servers = [server]
    try:
        restarted = _restart(server)
        servers.append(restarted)
        assert restarted.url == server.url  # the same address: nobody holding it is lost

        fitting.join(timeout=120)
        cli_out, cli_err = follower.communicate(timeout=120)

        assert not failure, failure
        assert _ticks(printed.getvalue()) == [f"tick {i}" for i in range(TICKS)]  # no gap, no duplicate
        assert follower.returncode == 0, cli_err
        assert _ticks(cli_out) == [f"tick {i}" for i in range(TICKS)]
        statuses = [line for line in printed.getvalue().splitlines() if " Completed - " in line]
        assert len(statuses) == 1  # status changes are not printed again on resume
        assert estimator.latest_training_job.describe()["TrainingJobStatus"] == "Completed"

        predictor = estimator.deploy(
            1,
            "local",
            entry_point="inference.py",
            source_dir=str(source),
            serializer=JSONSerializer(),
            deserializer=JSONDeserializer(),
        )
        assert predictor.predict([1, 2]) == [3.0, 6.0]

        # Killed again while idle: the predictor's next call waits for the restart (its request
        # was refused, never sent) and the endpoint, whose instance kept running, answers.
        restarted.stop(signal.SIGKILL)
        restarting = threading.Timer(1.0, lambda: servers.append(start_server(server.home)))
        restarting.start()
        assert predictor.predict([5]) == [15.0]
        restarting.join()
        restarted = servers[-1]
        assert restarted.url == server.url
        described = subprocess.run(
            [sys.executable, "-m", "kiln", "jobs", "describe", "outlives-restart", "--json"],
            env=restarted.env(),
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert described.returncode == 0, described.stderr
        assert json.loads(described.stdout)["TrainingJobStatus"] == "Completed"
        predictor.delete_endpoint()
    finally:
        follower.kill()
        session.close()
        for running in servers:
            running.stop()


def test_a_restarted_server_whose_port_is_taken_says_so_and_clients_follow_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = start_server(tmp_path / "home")
    monkeypatch.setenv("KILN_HOME", str(server.home))  # the embedded default: found via server.json
    monkeypatch.delenv("KILN_URL", raising=False)
    monkeypatch.setenv("KILN_CLIENT_RETRY_SECONDS", "20")
    session = kiln.Session()
    assert session.client.list_training_jobs() == []  # the session is connected
    port = int(server.url.rsplit(":", 1)[1])
    server.stop(signal.SIGKILL)
    squatter = socket.socket()  # another program takes the port while the server is down
    squatter.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    squatter.bind(("127.0.0.1", port))
    squatter.listen()
    try:
        moved = start_server(server.home)
        try:
            assert moved.url != server.url
            log = (server.home / "server.log").read_text()
            assert f"the previous address 127.0.0.1:{port} is not free" in log
            record = json.loads((server.home / "server.json").read_text())
            assert record["previous_url"] == server.url
            squatter.close()  # and goes away: the old address now refuses connections
            # The session named the old URL: server.json says that server moved, so it follows.
            assert session.client.list_training_jobs() == []
            assert session.url == moved.url
        finally:
            moved.stop()
    finally:
        squatter.close()
        session.close()


class _AnswerLost(httpx.BaseTransport):
    """Delivers each request to the real server, then loses the answer to the first POST of a path."""

    def __init__(self, lose: str) -> None:
        self._inner = httpx.HTTPTransport()
        self._lose = lose

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self._inner.handle_request(request)
        if request.method == "POST" and request.url.path.endswith(self._lose) and self._lose:
            self._lose = ""
            response.close()
            raise httpx.ReadError("connection reset by peer", request=request)
        return response


def test_a_create_whose_answer_was_lost_is_resolved_by_name_not_sent_twice(server: RunningServer) -> None:
    session = server.session()
    data = session.upload_bytes(
        b"not read until deployed", f"{session.bucket_uri()}/answer-lost/model.tar.gz"
    )
    client = KilnClient(server.url, token=server.token, transport=_AnswerLost("/models"), retry_seconds=5)
    request = {"ModelName": "answer-lost", "PrimaryContainer": {"Image": "kiln", "ModelDataUrl": data}}

    described = client.create_model(request)  # a second POST would answer 409 Conflict

    assert described["ModelName"] == "answer-lost"
    assert [m["ModelName"] for m in client.list_models()].count("answer-lost") == 1
    client.delete_model("answer-lost")


def test_an_invocation_that_may_have_run_is_not_sent_again(server: RunningServer) -> None:
    sent: list[str] = []

    class Lost(httpx.BaseTransport):
        def handle_request(self, request: httpx.Request) -> httpx.Response:
            sent.append(request.url.path)
            raise httpx.ReadError("connection reset by peer", request=request)

    client = KilnClient(server.url, transport=Lost(), retry_seconds=5)
    with pytest.raises(ServerUnavailable, match="may or may not have carried it out"):
        client.invoke_endpoint("any", b"[1]", {"Content-Type": "application/json"})
    assert sent == ["/endpoints/any/invocations"]


def test_a_refused_call_is_retried_until_the_time_is_up(tmp_path: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # closed again: nothing listens there
    client = KilnClient(f"http://127.0.0.1:{port}", retry_seconds=1.0)
    started = time.monotonic()
    with pytest.raises(ServerUnavailable, match=r"for 1 s"):
        client.describe_training_job("anything")
    assert 1.0 <= time.monotonic() - started < 5.0


def test_a_server_that_never_answered_is_given_up_on_in_seconds_not_the_restart_window() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # closed again: nothing listens there
    url = f"http://127.0.0.1:{port}"
    client = KilnClient(url, retry_seconds=60.0, rediscover=lambda _url: None)
    started = time.monotonic()
    with pytest.raises(ServerUnavailable, match=rf"cannot reach the Kiln server at {url} for 3 s"):
        client.describe_training_job("anything")
    assert time.monotonic() - started < 10.0  # not the 60 s that ride out a restart


def test_a_server_the_home_records_is_waited_for_the_whole_window() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    asked: list[str] = []

    def restarting(current: str) -> str:  # server.json names a live server: it is coming back
        asked.append(current)
        return current

    client = KilnClient(url, retry_seconds=4.0, rediscover=restarting)
    started = time.monotonic()
    with pytest.raises(ServerUnavailable, match=r"for 4 s"):
        client.describe_training_job("anything")
    assert time.monotonic() - started >= 4.0
    assert set(asked) == {url}  # asked where it is now, each time


def test_kiln_server_start_daemon_says_when_its_previous_port_was_taken(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    squatter = socket.socket()
    squatter.bind(("127.0.0.1", 0))
    squatter.listen()
    port = squatter.getsockname()[1]
    (home / "server-address.json").write_text(json.dumps({"host": "127.0.0.1", "port": port}))
    env = {k: v for k, v in os.environ.items() if k not in ("KILN_URL", "KILN_API_TOKEN")}
    env["KILN_HOME"] = str(home)
    try:
        started = subprocess.run(
            [sys.executable, "-m", "kiln", "server", "start", "--daemon"],
            env=env,
            capture_output=True,
            text=True,
            timeout=90,
        )
        assert started.returncode == 0, started.stderr
        assert f"its previous address http://127.0.0.1:{port} was taken" in started.stderr
        assert f":{port}" not in started.stdout
    finally:
        subprocess.run(
            [sys.executable, "-m", "kiln", "server", "stop"], env=env, capture_output=True, timeout=60
        )
        squatter.close()
