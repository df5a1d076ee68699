"""Endpoints on a Ray cluster: instances spread over nodes, reached over TCP, replaced when a node dies.

The real Kiln server runs with the Ray executor against Ray's multi-node test cluster (several raylets
on this machine, one CPU each, so two instances must take two nodes). A steady trickle of invocations
goes through the server's own invocation path while a node is removed: every request is answered,
except at most the one each client had in flight on the lost instance (answered 503 "send it again":
it reached a model that died, so only the client can tell whether to repeat it); the endpoint is back
to two serving instances once the replacement, on the node that joined, answers.
"""

from __future__ import annotations

import json
import tarfile
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest
from tests.cluster.ray_cluster import start_cluster
from tests.runtime.serving.serving_instances import FACTOR_HANDLERS

from conftest import RunningServer, start_server, wait_until

ray = pytest.importorskip("ray")

pytestmark = [pytest.mark.ray, pytest.mark.timeout(400)]

CLIENTS = 2  # threads invoking one request after another: each has at most one request in flight
RETRY_ANSWER = "send it again"  # the router's 503 for a request the lost instance had received


@pytest.fixture(scope="module")
def cluster() -> Iterator[Any]:
    cluster = start_cluster(2)
    yield cluster
    cluster.shutdown()


@pytest.fixture(scope="module")
def server(cluster: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    running = start_server(
        tmp_path_factory.mktemp("kiln-ray-endpoints"),
        extra_env={
            "KILN_EXECUTOR": "ray",
            "KILN_RAY_ADDRESS": cluster.address,
            "KILN_RAY_LINGER_SECONDS": "10",  # ended instances' actors leave soon: the machine is small
        },
        backend="local",
    )
    yield running
    running.stop()


def _model_uri(server: RunningServer, folder: Path) -> str:
    """A model.tar.gz of plain Python (no framework to import: instances start in a second or two)."""
    staging = folder / "staging"
    (staging / "code").mkdir(parents=True)
    (staging / "code" / "inference.py").write_text(textwrap.dedent(FACTOR_HANDLERS))
    (staging / "factor.txt").write_text("3")
    archive = folder / "model.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        for path in sorted(staging.rglob("*")):
            tar.add(path, arcname=str(path.relative_to(staging)), recursive=False)
    return server.session().upload_data(archive, key_prefix="ray-endpoints")


def _serving(server: RunningServer, name: str) -> list[dict[str, Any]]:
    instances = server.client().describe_endpoint(name)["Instances"]
    return [i for i in instances if i["State"] == "Serving"]


def _raylet_of(port: int, cluster: Any) -> Any:
    """The cluster node whose raylet the instance serving HTTP on ``port`` descends from."""
    raylets = {node.all_processes["raylet"][0].process.pid: node for node in cluster.worker_nodes}
    for process in psutil.process_iter():
        try:
            if not any(
                c.laddr.port == port and c.status == psutil.CONN_LISTEN for c in process.net_connections()
            ):
                continue
            for parent in process.parents():
                if parent.pid in raylets:
                    return raylets[parent.pid]
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    raise AssertionError(f"no instance process of a worker node listens on port {port}")


def test_an_endpoint_spreads_over_nodes_and_survives_losing_one(
    cluster: Any, server: RunningServer, tmp_path: Path
) -> None:
    client = server.client()
    name = "spread"
    client.create_model(
        {"ModelName": name, "PrimaryContainer": {"ModelDataUrl": _model_uri(server, tmp_path)}}
    )
    variant = {"VariantName": "Main", "ModelName": name, "InitialInstanceCount": 2, "InstanceType": "local"}
    client.create_endpoint_config({"EndpointConfigName": name, "ProductionVariants": [variant]})
    client.create_endpoint(name, name)
    server.session().wait_for_endpoint(name)
    try:
        serving = _serving(server, name)
        assert len(serving) == 2
        nodes = {_raylet_of(i["Port"], cluster) for i in serving}
        assert len(nodes) == 2  # one instance per node: each node has the one CPU an instance holds

        answer = client.invoke_endpoint(name, b"[1, 2]", {"Content-Type": "application/json"})
        assert (answer.status_code, json.loads(answer.content)) == (200, [3, 6])

        # A node joins (room for the replacement), then one of the serving nodes is lost.
        cluster.add_node(num_cpus=1)
        cluster.wait_for_nodes()
        outcomes: list[tuple[int, str]] = []
        stop = threading.Event()

        def trickle() -> None:
            # Plain HTTP: the SDK would raise on the 503 this test counts.
            with httpx.Client(base_url=server.url, timeout=60) as http:
                while not stop.is_set():
                    reply = http.post(
                        f"/endpoints/{name}/invocations",
                        content=b"[5]",
                        headers={"Content-Type": "application/json"},
                    )
                    outcomes.append((reply.status_code, reply.text))
                    time.sleep(0.02)

        threads = [threading.Thread(target=trickle) for _ in range(CLIENTS)]
        for thread in threads:
            thread.start()
        try:
            wait_until(lambda: len(outcomes) >= 20, timeout=30)
            lost = _raylet_of(serving[0]["Port"], cluster)
            cluster.remove_node(lost)
            answered_before = len(outcomes)
            # Its sibling answers meanwhile; the replacement starts on the node that joined.
            wait_until(
                lambda: (
                    len(_serving(server, name)) == 2
                    and serving[0]["InstanceId"] not in {i["InstanceId"] for i in _serving(server, name)}
                ),
                timeout=180,
                interval=0.5,
            )
            wait_until(lambda: len(outcomes) >= answered_before + 50, timeout=30)
        finally:
            stop.set()
            for thread in threads:
                thread.join(timeout=30)

        failed = [(status, text) for status, text in outcomes if status != 200]
        assert len(outcomes) > 70
        assert all(status == 503 and RETRY_ANSWER in text for status, text in failed), failed
        assert len(failed) <= CLIENTS  # only what was in flight on the lost instance
        assert all(json.loads(text) == [15] for status, text in outcomes if status == 200)

        replaced = _serving(server, name)
        assert {_raylet_of(i["Port"], cluster) for i in replaced} == set(cluster.worker_nodes)
        endpoint = client.describe_endpoint(name)
        assert endpoint["EndpointStatus"] == "InService"
        lost_instance = next(i for i in endpoint["Instances"] if i["InstanceId"] == serving[0]["InstanceId"])
        assert lost_instance["State"] == "Failed"
    finally:
        client.delete_endpoint(name)


def test_a_restarted_server_reaches_the_instances_on_other_nodes(
    cluster: Any, tmp_path_factory: pytest.TempPathFactory, tmp_path: Path
) -> None:
    """The link secret derives from a key kept in the server's home: a new server process finds the
    instances an earlier one started on the cluster, and its router passes their hello."""
    home = tmp_path_factory.mktemp("kiln-ray-restart")
    environment = {
        "KILN_EXECUTOR": "ray",
        "KILN_RAY_ADDRESS": cluster.address,
        "KILN_RAY_LINGER_SECONDS": "10",
    }
    first = start_server(home, extra_env=environment, backend="local")
    name = "restarted"
    try:
        client = first.client()
        client.create_model(
            {"ModelName": name, "PrimaryContainer": {"ModelDataUrl": _model_uri(first, tmp_path)}}
        )
        variant = {
            "VariantName": "Main",
            "ModelName": name,
            "InitialInstanceCount": 1,
            # 2 vCPUs, sized down to the nodes' one CPU: the instance holds what its reservation holds.
            "InstanceType": "ml.m5.large",
        }
        client.create_endpoint_config({"EndpointConfigName": name, "ProductionVariants": [variant]})
        client.create_endpoint(name, name)
        first.session().wait_for_endpoint(name)
        [instance] = _serving(first, name)
    finally:
        first.stop()

    second = start_server(home, extra_env=environment, backend="local")
    try:
        answer = second.client().invoke_endpoint(name, b"[7]", {"Content-Type": "application/json"})
        assert (answer.status_code, json.loads(answer.content)) == (200, [21])
        assert [i["InstanceId"] for i in _serving(second, name)] == [instance["InstanceId"]]  # not a new one
    finally:
        second.client().delete_endpoint(name)
        second.stop()
