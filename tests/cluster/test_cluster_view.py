"""``GET /api/v1/cluster``, ``kiln cluster`` and the console's Cluster page: the nodes, what each holds, and what runs where.

On the local executor the one node is this machine; on Ray, a two-node cluster shows both nodes, and a
two-host job has one host on each (the node describe names for it)."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import tarfile
import textwrap
import uuid
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import httpx
import pytest

import kiln
from conftest import RunningServer, start_server, wait_until
from kiln.machine import detect_machine

CLI_TIMEOUT = 60  # seconds for one `kiln cluster`
JOB_TIMEOUT = 90.0  # a job's hosts start (on Ray: a placement group and a worker per node first)
GIB = 1024**3
CONFIG = """
[instance_types."kiln.one"]
vcpus = 1
memory_gib = 0.5
price_per_hour = 0.01
"""
# Endpoint configs take the built-in types only (an operator's kiln.one is refused there).
ENDPOINT_TYPE = "ml.t3.medium"
LOOP_SCRIPT = """
import time
print("looping", flush=True)
while True:
    time.sleep(0.2)
"""


def _server(home: Path, extra_env: dict[str, str] | None = None, token: str | None = None) -> RunningServer:
    home.mkdir(parents=True, exist_ok=True)
    (home / "config.toml").write_text(textwrap.dedent(CONFIG))
    return start_server(home, extra_env=extra_env, token=token)


def _start_loop_job(session: kiln.Session, source: Path, name: str, count: int = 1) -> None:
    source.mkdir(parents=True, exist_ok=True)
    (source / "train.py").write_text(textwrap.dedent(LOOP_SCRIPT))
    estimator = kiln.Estimator(
        "train.py",
        source_dir=str(source),
        instance_type="kiln.one",
        instance_count=count,
        sagemaker_session=session,
    )
    session.client.create_training_job(estimator._training_request(name, None))


def _hosts_running(session: kiln.Session, name: str) -> dict[str, Any] | None:
    described = session.describe_training_job(name)
    assert described["TrainingJobStatus"] in ("Pending", "InProgress"), described.get("FailureReason")
    hosts = described.get("Hosts", [])
    running = hosts and all(h["State"] == "Running" and h["Node"] for h in hosts)
    return described if running else None


def _cluster(server: RunningServer) -> dict[str, Any]:
    with server.client() as client:
        answer: dict[str, Any] = client.call("GET", "/cluster")
    return answer


def _kiln(server: RunningServer, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**server.env(), "COLUMNS": "250"}  # rich wraps tables to the terminal's width
    return subprocess.run(
        [sys.executable, "-m", "kiln", *args], env=env, capture_output=True, text=True, timeout=CLI_TIMEOUT
    )


def _stop(session: kiln.Session, name: str) -> None:
    session.client.stop_training_job(name)
    wait_until(
        lambda: session.describe_training_job(name)["TrainingJobStatus"] == "Stopped", timeout=JOB_TIMEOUT
    )


# -- the local executor: the one machine ----------------------------------------------------------------


@pytest.fixture(scope="module")
def local_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    running = _server(tmp_path_factory.mktemp("cluster-local-home"))
    yield running
    running.stop()


def test_the_local_executor_shows_this_machine_holding_a_running_jobs_host(
    local_server: RunningServer, tmp_path: Path
) -> None:
    name = f"cluster-{uuid.uuid4().hex[:8]}"
    with closing(local_server.session()) as session:
        _start_loop_job(session, tmp_path / "src", name)
        try:
            described = wait_until(lambda: _hosts_running(session, name), timeout=JOB_TIMEOUT)
            view = _cluster(local_server)
            printed = _kiln(local_server, "cluster")
            as_json = _kiln(local_server, "cluster", "--json")
            page = httpx.get(f"{local_server.url}/cluster", timeout=30)  # the console's page (auth off)
        finally:
            _stop(session, name)
        after = _cluster(local_server)

    machine = detect_machine()
    [node] = view["Nodes"]
    assert view["Executor"] == "local"
    assert view["ServerNode"] == node["Name"] == socket.gethostname()
    assert node["Alive"] is True
    assert node["Cpus"] == len(machine.cpus)
    assert node["MemoryGiB"] == round(machine.memory_bytes / GIB, 2)
    assert (node["HeldCpus"], node["HeldMemoryGiB"], node["HeldGpus"]) == (1.0, 0.5, 0)
    assert node["Units"] == [
        {
            "Kind": "training-job",
            "Name": name,
            "Unit": "algo-1",
            "State": "Running",
            "Node": node["Name"],
            "Cpus": 1.0,
            "MemoryGiB": 0.5,
            "Gpus": 0,
        }
    ]
    assert described["Hosts"][0]["Node"] == node["Name"]
    assert view["Elsewhere"] == []
    assert view["Waiting"] == []

    assert printed.returncode == 0, printed.stderr
    assert "Executor local: 1 of 1 node alive" in printed.stdout
    job_line = next(line for line in printed.stdout.splitlines() if name in line)
    assert node["Name"] in job_line
    assert "algo-1" in job_line
    assert "Running" in job_line
    assert f"1 / {len(machine.cpus)}" in printed.stdout  # held / has, in the nodes table
    assert as_json.returncode == 0, as_json.stderr
    assert json.loads(as_json.stdout)["Nodes"][0]["Units"][0]["Name"] == name

    assert page.status_code == 200
    assert f'<a href="/training-jobs/{name}">{name}</a>' in page.text
    assert f"<td>{node['Name']}</td><td>training-job</td>" in page.text

    # A stopped job holds nothing any more.
    assert after["Nodes"][0]["Units"] == []
    assert after["Nodes"][0]["HeldCpus"] == 0


def test_an_endpoint_instance_and_a_job_waiting_for_room_show_where_they_are(
    local_server: RunningServer, tmp_path: Path
) -> None:
    """An endpoint's instance runs on the one node and holds its share; a job too big for what is
    left waits, and the view says so."""
    endpoint = f"cluster-ep-{uuid.uuid4().hex[:8]}"
    waiting = f"cluster-wait-{uuid.uuid4().hex[:8]}"
    everything = len(detect_machine().cpus)  # one CPU each: fits the machine, not beside the endpoint
    with closing(local_server.session()) as session:
        predictor = kiln.Model(_upload_echo_model(session, tmp_path), sagemaker_session=session).deploy(
            initial_instance_count=1, instance_type=ENDPOINT_TYPE, endpoint_name=endpoint
        )
        try:
            _start_loop_job(session, tmp_path / "src", waiting, count=everything)
            try:
                view = _cluster(local_server)
            finally:
                _stop(session, waiting)
        finally:
            predictor.delete_endpoint()

    with local_server.client() as client:
        types = client.call("GET", "/instance-types")["InstanceTypes"]
    granted = next(t for t in types if t["InstanceType"] == ENDPOINT_TYPE)
    [node] = view["Nodes"]
    [unit] = node["Units"]
    assert unit["Kind"] == "endpoint"
    assert unit["Name"] == endpoint
    assert unit["State"] == "Serving"
    assert unit["Node"] == node["Name"]
    assert (unit["Cpus"], unit["MemoryGiB"]) == (granted["GrantedCpus"], granted["GrantedMemoryGiB"])
    assert node["HeldCpus"] == granted["GrantedCpus"]
    [queued] = view["Waiting"]
    assert queued["Owner"] == f"training-job/{waiting}"
    assert (queued["InstanceType"], queued["InstanceCount"]) == ("kiln.one", everything)


def _upload_echo_model(session: kiln.Session, folder: Path) -> str:
    """A model.tar.gz whose code answers with what it was sent."""
    code = folder / "model" / "code"
    code.mkdir(parents=True)
    (code / "inference.py").write_text(
        "def model_fn(model_dir):\n    return None\n\n\ndef predict_fn(data, model):\n    return data\n"
    )
    archive = folder / "model.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(code, arcname="code")
    return str(session.upload_data(str(archive), key_prefix=f"cluster-tests/{folder.name}"))


def test_the_cluster_view_needs_the_token_as_every_api_route(tmp_path: Path) -> None:
    running = _server(tmp_path / "home", token="cluster-test-token-0123456789")
    try:
        refused = _kiln(
            RunningServer(running.url, running.home, running.process, token=None, backend=running.backend),
            "cluster",
        )
        allowed = _kiln(running, "cluster", "--json")
    finally:
        running.stop()

    assert refused.returncode == 1
    assert refused.stderr.startswith("Error: ")
    assert refused.stdout == ""
    assert allowed.returncode == 0, allowed.stderr
    assert json.loads(allowed.stdout)["Executor"] == "local"


# -- Ray: a cluster of two one-CPU nodes on this machine ------------------------------------------------


@pytest.mark.ray
def test_a_ray_cluster_shows_both_nodes_and_each_host_on_its_node(tmp_path: Path) -> None:
    from tests.cluster.ray_cluster import NODE_LABEL, start_cluster

    cluster = start_cluster(2)
    running = None
    try:
        running = _server(
            tmp_path / "home",
            extra_env={
                "KILN_EXECUTOR": "ray",
                "KILN_RAY_ADDRESS": cluster.address,
                "KILN_RAY_LINGER_SECONDS": "5",
            },
        )
        name = f"cluster-ray-{uuid.uuid4().hex[:8]}"
        with closing(running.session()) as session:
            _start_loop_job(session, tmp_path / "src", name, count=2)
            try:
                described = wait_until(lambda: _hosts_running(session, name), timeout=JOB_TIMEOUT)
                view = _cluster(running)
                printed = _kiln(running, "cluster")
            finally:
                _stop(session, name)
    finally:
        if running is not None:
            running.stop()
        cluster.shutdown()

    assert view["Executor"] == "ray"
    workers = [n for n in view["Nodes"] if n["Alive"] and n["Resources"].get(NODE_LABEL)]
    assert len(workers) == 2
    assert all(n["Cpus"] == 1.0 and n["HeldCpus"] == 1.0 for n in workers)
    # One host per worker node (STRICT_SPREAD), where describe says each runs.
    where = {u["Unit"]: n["Name"] for n in workers for u in n["Units"] if u["Name"] == name}
    assert sorted(where) == ["algo-1", "algo-2"]
    assert len(set(where.values())) == 2
    assert {h["Host"]: h["Node"] for h in described["Hosts"]} == where
    head = [n for n in view["Nodes"] if n["Alive"] and not n["Resources"].get(NODE_LABEL)]
    assert [n["Cpus"] for n in head] == [0.0]
    assert head[0]["Units"] == []

    assert printed.returncode == 0, printed.stderr
    assert "Executor ray: 3 of 3 nodes alive" in printed.stdout
    for host, node in where.items():
        assert any(node in line and host in line for line in printed.stdout.splitlines())
