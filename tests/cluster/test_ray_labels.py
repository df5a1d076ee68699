"""An instance type's node resources on Ray: its units run only on nodes started with them.

One cluster of two one-CPU worker nodes, of which only the second has the label ``kiln-test-box``
(as `ray start --resources '{"kiln-test-box": 1}'` gives it): through the executor, and through the
real server with a job on an operator type whose config names the label."""

from __future__ import annotations

import json
import sys
import tarfile
import textwrap
import time
import uuid
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
from tests.cluster.ray_cluster import start_cluster
from tests.runtime.serving.serving_instances import FACTOR_HANDLERS

import kiln
from conftest import RunningServer, start_server, wait_until
from kiln.executors import GroupNotPlaced, LaunchUnit, UnitResources
from kiln.executors.ray import NAMESPACE, RayExecutor

ray = pytest.importorskip("ray")

pytestmark = pytest.mark.ray

LABEL = "kiln-test-box"  # only the second worker node has one
LINGER_SECONDS = 20.0  # ended units' actors leave soon: the machine is small
JOB_TIMEOUT = 120.0  # a job's host starts (a placement group and a worker on its node first)
CONFIG = f"""
[instance_types."kiln.boxed"]
vcpus = 1
price_per_hour = 0.01
node_resources = {{ "{LABEL}" = 1 }}

[instance_types."kiln.nowhere"]
vcpus = 1
node_resources = {{ "kiln-absent" = 1 }}
"""
SCRIPT = """
print("ran on the labelled node", flush=True)
"""


@pytest.fixture(scope="module")
def ray_cluster() -> Iterator[Any]:
    cluster = start_cluster(2, labels={1: {LABEL: 1}})
    yield cluster
    if ray.is_initialized():
        ray.shutdown()
    cluster.shutdown()


@pytest.fixture(scope="module")
def executor(ray_cluster: Any) -> Iterator[RayExecutor]:
    ray.init(address=ray_cluster.address, namespace=NAMESPACE, log_to_driver=False)
    yield RayExecutor(placement_timeout_seconds=3.0, linger_seconds=LINGER_SECONDS)
    ray.shutdown()


def _labelled_node(nodes: list[dict[str, Any]]) -> str:
    [name] = [n["name"] for n in nodes if n["alive"] and n["resources"].get(LABEL)]
    return str(name)


def test_a_group_asking_for_the_label_lands_only_on_the_labelled_node(executor: RayExecutor) -> None:
    labelled = _labelled_node(executor.nodes())
    boxed = UnitResources(cpus=1, custom={LABEL: 1})

    for _ in range(3):  # an unlabelled node is free each time: only the label can decide
        placement = executor.place_group([boxed])
        try:
            assert placement.nodes == (labelled,)
        finally:
            executor.release_placement(placement)

    # The labelled node taken, a second labelled unit waits rather than spill onto the free node.
    held = executor.place_group([boxed])
    try:
        with pytest.raises(GroupNotPlaced, match="no room"):
            executor.place_group([boxed])
        other = executor.place_group([UnitResources(cpus=1)])  # the other node was free all along
        assert other.nodes != (labelled,)
        executor.release_placement(other)
    finally:
        executor.release_placement(held)


def test_a_launched_unit_with_the_label_runs_on_the_labelled_node(
    executor: RayExecutor, tmp_path: Path
) -> None:
    labelled = _labelled_node(executor.nodes())
    for i in range(3):  # one at a time, an unlabelled node free each time
        unit = LaunchUnit(
            command=[sys.executable, "-c", "print('boxed')"],
            env={},
            workdir=tmp_path / f"unit-{i}",
            resources=UnitResources(cpus=1, custom={LABEL: 1}),
        )
        [handle] = executor.launch_group([unit])

        assert executor.node_name(handle) == labelled
        wait_until(lambda h=handle: executor.poll(h) is not None, timeout=60)
        assert executor.poll(handle) == 0
        assert "boxed" in executor.read_log(handle)


def test_a_label_no_node_has_is_named_in_the_not_placed_message_and_holds_nothing(
    executor: RayExecutor,
) -> None:
    started = time.monotonic()
    with pytest.raises(GroupNotPlaced, match=r"resource 'kiln-absent'.*ray start --resources"):
        executor.place_group([UnitResources(cpus=1, custom={"kiln-absent": 1})])
    # Told at once, not after the placement timeout: Ray itself would keep the group pending.
    assert time.monotonic() - started < executor.placement_timeout_seconds

    placement = executor.place_group([UnitResources(cpus=1)] * 2)  # both nodes' CPUs are free
    executor.release_placement(placement)


@pytest.fixture(scope="module")
def server(ray_cluster: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    home = tmp_path_factory.mktemp("kiln-ray-labels")
    (home / "config.toml").write_text(textwrap.dedent(CONFIG))
    running = start_server(
        home,
        extra_env={
            "KILN_EXECUTOR": "ray",
            "KILN_RAY_ADDRESS": ray_cluster.address,
            "KILN_RAY_LINGER_SECONDS": "5",  # ended units' actors leave soon: the machine is small
        },
    )
    yield running
    running.stop()


def _labelled_in_view(server: RunningServer) -> tuple[str, list[dict[str, Any]]]:
    """The labelled node's name in the server's cluster view, and every node of the view."""
    with server.client() as client:
        nodes: list[dict[str, Any]] = client.call("GET", "/cluster")["Nodes"]
    [labelled] = [n["Name"] for n in nodes if n["Alive"] and n["Resources"].get(LABEL)]
    return str(labelled), nodes


def test_a_job_of_a_labelled_type_runs_on_the_labelled_node_and_a_missing_label_is_named(
    server: RunningServer, tmp_path: Path
) -> None:
    source = tmp_path / "src"
    source.mkdir()
    (source / "train.py").write_text(textwrap.dedent(SCRIPT))
    labelled, _ = _labelled_in_view(server)
    name = f"boxed-{uuid.uuid4().hex[:8]}"
    with closing(server.session()) as session:
        estimator = kiln.Estimator(
            "train.py", source_dir=str(source), instance_type="kiln.boxed", sagemaker_session=session
        )
        session.client.create_training_job(estimator._training_request(name, None))

        def ended() -> dict[str, Any] | None:
            described = session.describe_training_job(name)
            terminal = described["TrainingJobStatus"] in ("Completed", "Failed", "Stopped")
            return described if terminal else None

        described = wait_until(ended, timeout=JOB_TIMEOUT, interval=0.2)

        absent = f"nowhere-{uuid.uuid4().hex[:8]}"
        estimator = kiln.Estimator(
            "train.py", source_dir=str(source), instance_type="kiln.nowhere", sagemaker_session=session
        )
        session.client.create_training_job(estimator._training_request(absent, None))

        def told_why() -> dict[str, Any] | None:
            described = session.describe_training_job(absent)
            return described if "kiln-absent" in _told(described) else None

        elsewhere = wait_until(told_why, timeout=JOB_TIMEOUT, interval=0.2)
        if elsewhere["TrainingJobStatus"] not in ("Failed", "Stopped"):
            session.client.stop_training_job(absent)

    assert described["TrainingJobStatus"] == "Completed", described.get("FailureReason")
    assert [h["Node"] for h in described["Hosts"]] == [labelled]
    # A type whose label no node has never runs: what it is told names the missing resource (it
    # fails with it, or waits with it, as the server's queue decides).
    assert elsewhere["TrainingJobStatus"] != "Completed"
    assert "kiln-absent" in _told(elsewhere)


def _told(described: dict[str, Any]) -> str:
    messages = [t.get("StatusMessage", "") for t in described.get("SecondaryStatusTransitions", [])]
    return " ".join([described.get("FailureReason", ""), *messages])


def test_an_endpoint_of_a_labelled_type_serves_from_the_labelled_node(
    executor: RayExecutor, server: RunningServer, tmp_path: Path
) -> None:
    client = server.client()
    name = f"boxed-{uuid.uuid4().hex[:8]}"
    client.create_model(
        {"ModelName": name, "PrimaryContainer": {"ModelDataUrl": _model_uri(server, tmp_path)}}
    )
    variant = {
        "VariantName": "Main",
        "ModelName": name,
        "InitialInstanceCount": 1,
        "InstanceType": "kiln.boxed",
    }
    client.create_endpoint_config({"EndpointConfigName": name, "ProductionVariants": [variant]})
    client.create_endpoint(name, name)
    try:
        server.session().wait_for_endpoint(name)
        labelled, nodes = _labelled_in_view(server)
        where = [
            n["Name"] for n in nodes for u in n["Units"] if u["Kind"] == "endpoint" and u["Name"] == name
        ]
        # The instance's reservation on the cluster asks for the label (what Ray placed it by).
        bundles = [
            bundle
            for group in ray.util.placement_group_table().values()
            if group["state"] == "CREATED"
            for bundle in group["bundles"].values()
        ]
        answer = client.invoke_endpoint(name, b"[1, 2]", {"Content-Type": "application/json"})
    finally:
        client.delete_endpoint(name)

    assert where == [labelled]
    assert {"CPU": 1.0, LABEL: 1.0} in bundles
    assert (answer.status_code, json.loads(answer.content)) == (200, [3, 6])


def _model_uri(server: RunningServer, folder: Path) -> str:
    """A model.tar.gz of plain Python (no framework to import: the instance starts in a second or two)."""
    staging = folder / "staging"
    (staging / "code").mkdir(parents=True)
    (staging / "code" / "inference.py").write_text(textwrap.dedent(FACTOR_HANDLERS))
    (staging / "factor.txt").write_text("3")
    archive = folder / "model.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        for path in sorted(staging.rglob("*")):
            tar.add(path, arcname=str(path.relative_to(staging)), recursive=False)
    return server.session().upload_data(archive, key_prefix="ray-labels")
