"""Training jobs on a Ray cluster, through the real server: one host per node, a node lost mid-job,
and a job larger than the cluster that waits for a node to join.

Each test starts its own cluster of one-CPU nodes (``start_cluster``) and a Kiln server on it
(``KILN_EXECUTOR=ray``); both are shut down whatever happens.
"""

from __future__ import annotations

import io
import json
import tarfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from tests.cluster.ray_cluster import NODE_LABEL, start_cluster

import kiln
from conftest import RunningServer, processes_mentioning, start_server, wait_until
from kiln.errors import NotFound
from kiln.runtime.training.outputs import host_model_part_uri

pytestmark = [pytest.mark.ray, pytest.mark.timeout(420)]

INSTANCE_TYPE = "ml.m5.large"  # 2 vCPUs, scaled down to the nodes' one CPU
JOB_TIMEOUT_SECONDS = 180.0  # a job's hosts import torch on two shared cores
# A group waits this long for room before the job goes back to waiting (the supervisor's thread
# waits with it): short, so a test's job is placed again soon after a node changes.
PLACEMENT_TIMEOUT_SECONDS = "3"

# torch.distributed over gloo between the hosts, met at the executor's rendezvous (MASTER_ADDR):
# different starting weights per rank, which DDP makes equal; every rank leaves its parameters in
# its model/ folder, which the control plane merges into one model.tar.gz.
DDP_SCRIPT = """
import json, os
import torch
import torch.distributed as dist

hosts = json.loads(os.environ["SM_HOSTS"])
rank = hosts.index(os.environ["SM_CURRENT_HOST"])
dist.init_process_group("gloo", init_method=f"tcp://{os.environ['MASTER_ADDR']}:{os.environ['MASTER_PORT']}",
                        rank=rank, world_size=len(hosts))
torch.manual_seed(rank)
model = torch.nn.parallel.DistributedDataParallel(torch.nn.Linear(4, 1))
optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
for step in range(10):
    x = torch.randn(8, 4)
    loss = ((model(x) - x.sum(dim=1, keepdim=True)) ** 2).mean()
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
params = [round(float(v), 6) for p in model.parameters() for v in p.detach().flatten()]
with open(os.path.join(os.environ["SM_MODEL_DIR"], f"rank-{rank}.json"), "w") as f:
    json.dump(params, f)
print(f"rank={rank} world={dist.get_world_size()} done", flush=True)
dist.destroy_process_group()
"""

# Steps in lockstep (an all_reduce each): a host lost with its node breaks the others' collective.
# The first host checkpoints every step; a restarted attempt resumes from the last checkpoint.
CHECKPOINTED_DDP_SCRIPT = """
import json, os, time
import torch
import torch.distributed as dist

hosts = json.loads(os.environ["SM_HOSTS"])
rank = hosts.index(os.environ["SM_CURRENT_HOST"])
dist.init_process_group("gloo", init_method=f"tcp://{os.environ['MASTER_ADDR']}:{os.environ['MASTER_PORT']}",
                        rank=rank, world_size=len(hosts))
path = os.path.join("/opt/ml/checkpoints" if os.path.isdir("/opt/ml/checkpoints")
                    else os.environ["SAGEMAKER_BASE_DIR"] + "/checkpoints", "step.txt")
start = int(open(path).read()) if os.path.exists(path) else 0
print(f"resuming from step {start}", flush=True)
total = torch.zeros(1)
for step in range(start, 60):
    dist.all_reduce(total)
    if rank == 0:
        with open(path + ".tmp", "w") as f:
            f.write(str(step + 1))
        os.replace(path + ".tmp", path)
    print(f"step={step + 1}", flush=True)
    time.sleep(0.25)
if rank == 0:
    open(os.path.join(os.environ["SM_MODEL_DIR"], "final.txt"), "w").write(open(path).read())
dist.destroy_process_group()
"""

SLEEPING_SCRIPT = """
import time
for step in range(600):
    print(f"step={step + 1}", flush=True)
    time.sleep(0.25)
"""

QUICK_SCRIPT = """
print("ran", flush=True)
"""


@contextmanager
def kiln_on_ray(workers: int, home: Path) -> Iterator[tuple[Any, RunningServer, kiln.Session]]:
    """A cluster of ``workers`` one-CPU nodes, a Kiln server whose executor is that cluster, and a
    session of that server."""
    cluster = start_cluster(workers)
    try:
        server = _server_on(cluster, home)
        session = server.session()
        try:
            yield cluster, server, session
        finally:
            session.close()
            server.stop()
    finally:
        cluster.shutdown()


def _server_on(cluster: Any, home: Path) -> RunningServer:
    return start_server(
        home,
        extra_env={
            "KILN_EXECUTOR": "ray",
            "KILN_RAY_ADDRESS": cluster.address,
            "KILN_RAY_PLACEMENT_TIMEOUT_SECONDS": PLACEMENT_TIMEOUT_SECONDS,
            "KILN_RAY_LINGER_SECONDS": "30",
        },
    )


def _ended(session: kiln.Session, name: str, timeout: float = JOB_TIMEOUT_SECONDS) -> dict[str, Any]:
    return wait_until(  # type: ignore[no-any-return]
        lambda: (
            (d := session.describe_training_job(name))["TrainingJobStatus"]
            in ("Completed", "Failed", "Stopped")
            and d
        ),
        timeout=timeout,
        interval=0.5,
    )


def _node_of(cluster: Any, described_node: str) -> Any:
    """The cluster's node that a host's ``Node`` (``<node id prefix>@<address>``) names."""
    prefix = described_node.split("@", 1)[0]
    return next(n for n in cluster.worker_nodes if n.node_id.startswith(prefix))


def _logged(session: kiln.Session, name: str) -> list[str]:
    return [e["message"] for e in session.client.training_job_logs(name, limit=5000)["Events"]]


def _nothing_left(server: RunningServer, name: str) -> None:
    wait_until(lambda: processes_mentioning(str(server.home / "jobs" / name)) == [], timeout=30)


def test_a_data_parallel_job_runs_one_host_per_node_and_its_ranks_agree(tmp_path: Path, write_script) -> None:
    source = write_script(DDP_SCRIPT)
    with kiln_on_ray(3, tmp_path / "home") as (_, server, session):
        estimator = kiln.PyTorch(
            "train.py",
            source_dir=str(source),
            instance_count=3,
            instance_type=INSTANCE_TYPE,
            sagemaker_session=session,
        )
        estimator.fit(wait=False)
        name = estimator.latest_training_job.name  # type: ignore[union-attr]
        final = _ended(session, name)

        assert final["TrainingJobStatus"] == "Completed", final.get("FailureReason")
        nodes = [h["Node"] for h in final["Hosts"]]
        assert len(set(nodes)) == 3, nodes  # STRICT_SPREAD over the three one-CPU nodes
        # One archive, packed once by the control plane from every host's part; no part left over.
        with tarfile.open(
            fileobj=io.BytesIO(session.read_artifact(estimator.model_data)), mode="r:gz"
        ) as tar:
            files = {m.name: tar.extractfile(m).read() for m in tar.getmembers() if m.isfile()}  # type: ignore[union-attr]
        assert sorted(files) == ["rank-0.json", "rank-1.json", "rank-2.json"]
        params = [json.loads(files[f"rank-{r}.json"]) for r in range(3)]
        assert params[0] == params[1] == params[2]
        prefix = estimator.model_data.rsplit("/", 1)[0]
        for host in ("algo-2", "algo-3"):
            with pytest.raises(NotFound):
                session.read_artifact(host_model_part_uri(prefix, host))
        _nothing_left(server, name)


def test_a_node_lost_mid_job_restarts_it_from_its_checkpoint_on_the_nodes_left(
    tmp_path: Path, write_script
) -> None:
    source = write_script(CHECKPOINTED_DDP_SCRIPT)
    with kiln_on_ray(3, tmp_path / "home") as (cluster, server, session):
        checkpoints = f"{session.bucket_uri()}/checkpoints/{tmp_path.name}"
        estimator = kiln.PyTorch(
            "train.py",
            source_dir=str(source),
            instance_count=2,
            checkpoint_s3_uri=checkpoints,
            max_retry_attempts=1,
            instance_type=INSTANCE_TYPE,
            sagemaker_session=session,
        )
        estimator.fit(wait=False)
        name = estimator.latest_training_job.name  # type: ignore[union-attr]
        wait_until(lambda: _stored_step(session, f"{checkpoints}/step.txt") >= 5, timeout=JOB_TIMEOUT_SECONDS)
        lost = session.describe_training_job(name)["Hosts"][1]["Node"]
        # It dies (its raylet killed): the peer's collective breaks at once, while the cluster takes
        # seconds to notice the node is gone; the lost node, not the peer's error, decides.
        cluster.remove_node(_node_of(cluster, lost), allow_graceful=False)

        final = _ended(session, name)
        assert final["TrainingJobStatus"] == "Completed", final.get("FailureReason")
        restarting = [t for t in final["SecondaryStatusTransitions"] if t["Status"] == "Restarting"]
        assert restarting
        assert f"host algo-2 was lost with node {lost}" in restarting[0]["StatusMessage"]
        assert lost not in [h["Node"] for h in final["Hosts"]]  # the second attempt ran on the nodes left
        resumed = [m for m in _logged(session, name) if m.startswith("resuming from step")]
        assert resumed[0] == "resuming from step 0"
        assert int(resumed[-1].split()[-1]) >= 5  # the second attempt started from the checkpoint
        assert session.read_artifact(f"{checkpoints}/step.txt") == b"60"
        _nothing_left(server, name)


def test_a_node_lost_without_retries_fails_the_job_naming_the_node(tmp_path: Path, write_script) -> None:
    source = write_script(SLEEPING_SCRIPT)
    with kiln_on_ray(2, tmp_path / "home") as (cluster, server, session):
        estimator = kiln.Estimator(
            "train.py", source_dir=str(source), instance_type=INSTANCE_TYPE, sagemaker_session=session
        )
        estimator.fit(wait=False)
        name = estimator.latest_training_job.name  # type: ignore[union-attr]
        wait_until(lambda: "step=3" in _logged(session, name), timeout=JOB_TIMEOUT_SECONDS, interval=0.5)
        lost = session.describe_training_job(name)["Hosts"][0]["Node"]
        cluster.remove_node(_node_of(cluster, lost), allow_graceful=False)  # it dies: nobody is told

        final = _ended(session, name, timeout=60)
        assert final["TrainingJobStatus"] == "Failed"
        assert f"host algo-1 was lost with node {lost}" in final["FailureReason"]
        _nothing_left(server, name)
        # Its room went back: Ray would have placed the lost host's bundle again on the node left and
        # held it there, had the group not been removed; a job that needs that node runs.
        quick = kiln.Estimator(
            "train.py",
            source_dir=str(write_script(QUICK_SCRIPT, folder="quick")),
            instance_type=INSTANCE_TYPE,
            sagemaker_session=session,
        )
        quick.fit(wait=False)
        done = _ended(session, quick.latest_training_job.name, timeout=60)  # type: ignore[union-attr]
        assert done["TrainingJobStatus"] == "Completed", done.get("FailureReason")


def test_a_restart_with_no_room_left_waits_for_room_across_a_server_restart_and_can_be_stopped(
    tmp_path: Path, write_script
) -> None:
    source = write_script(SLEEPING_SCRIPT)
    with kiln_on_ray(2, tmp_path / "home") as (cluster, server, session):
        estimator = kiln.Estimator(
            "train.py",
            source_dir=str(source),
            instance_type=INSTANCE_TYPE,
            instance_count=2,
            max_retry_attempts=1,
            sagemaker_session=session,
        )
        estimator.fit(wait=False)
        name = estimator.latest_training_job.name  # type: ignore[union-attr]
        wait_until(lambda: "step=3" in _logged(session, name), timeout=JOB_TIMEOUT_SECONDS, interval=0.5)
        lost = session.describe_training_job(name)["Hosts"][1]["Node"]
        cluster.remove_node(_node_of(cluster, lost))  # it leaves (drained)

        # Its second attempt needs two one-CPU nodes; one is left: it holds its capacity and waits.
        waiting = wait_until(
            lambda: (
                (d := session.describe_training_job(name))["SecondaryStatus"] == "Pending"
                and any(t["Status"] == "Restarting" for t in d["SecondaryStatusTransitions"])
                and d
            ),
            timeout=60,
            interval=0.5,
        )
        assert waiting["TrainingJobStatus"] == "InProgress"
        assert waiting["SecondaryStatusTransitions"][-1]["StatusMessage"].startswith(
            "Waiting for room on the cluster for every host together"
        )
        # A restarted server finds it waiting (its first attempt's hosts stopped, its next one never
        # launched) and keeps placing it; a stop ends it there and then.
        server.stop()
        again = _server_on(cluster, server.home)
        on_again = again.session()
        try:
            time.sleep(3 * float(PLACEMENT_TIMEOUT_SECONDS))
            still = on_again.describe_training_job(name)
            assert still["SecondaryStatus"] == "Pending"
            assert still["SecondaryStatusTransitions"][-1]["StatusMessage"].startswith(
                "Waiting for room on the cluster for every host together"
            )
            on_again.stop_training_job(name)
            final = _ended(on_again, name, timeout=60)
            assert final["TrainingJobStatus"] == "Stopped"
            _nothing_left(again, name)
            # Its capacity went back: the one node left runs a job that fits it.
            quick = kiln.Estimator(
                "train.py",
                source_dir=str(write_script(QUICK_SCRIPT, folder="quick")),
                instance_type=INSTANCE_TYPE,
                sagemaker_session=on_again,
            )
            quick.fit(wait=False)
            done = _ended(on_again, quick.latest_training_job.name)  # type: ignore[union-attr]
            assert done["TrainingJobStatus"] == "Completed", done.get("FailureReason")
        finally:
            on_again.close()
            again.stop()


def test_a_job_larger_than_the_cluster_waits_until_a_node_joins(tmp_path: Path, write_script) -> None:
    source = write_script(QUICK_SCRIPT)
    with kiln_on_ray(1, tmp_path / "home") as (cluster, server, session):
        estimator = kiln.Estimator(
            "train.py",
            source_dir=str(source),
            instance_count=2,
            instance_type=INSTANCE_TYPE,
            sagemaker_session=session,
        )
        estimator.fit(wait=False)
        name = estimator.latest_training_job.name  # type: ignore[union-attr]
        waiting = session.describe_training_job(name)
        assert waiting["TrainingJobStatus"] == "InProgress"
        assert waiting["SecondaryStatus"] == "Pending"
        message = waiting["SecondaryStatusTransitions"][-1]["StatusMessage"]
        assert "waiting for a node to join" in message
        assert "needs 2 CPUs (2 × 1), the cluster has 1 in all" in message
        time.sleep(3)  # a few supervisor passes: it was neither refused nor scaled down to the one node
        assert session.describe_training_job(name)["SecondaryStatus"] == "Pending"

        cluster.add_node(num_cpus=1, resources={NODE_LABEL: 1})
        final = _ended(session, name)
        assert final["TrainingJobStatus"] == "Completed", final.get("FailureReason")
        assert len({h["Node"] for h in final["Hosts"]}) == 2
        _nothing_left(server, name)


def _stored_step(session: kiln.Session, uri: str) -> int:
    try:
        return int(session.read_artifact(uri))
    except NotFound:
        return 0
