"""Several hosts: SageMaker's distributed environment, torch.distributed over gloo, failure and retries."""

from __future__ import annotations

import io
import json
import signal
import tarfile
from pathlib import Path

import psutil
import pytest

import kiln
from conftest import RunningServer, processes_mentioning, wait_until
from kiln.errors import NotFound, UnexpectedStatusException

# A 2018-2020 style script: it sets torch.distributed up itself from the SageMaker variables.
DDP_SCRIPT = """
import json, os, sys
import torch
import torch.distributed as dist

hosts = json.loads(os.environ["SM_HOSTS"])
rank = hosts.index(os.environ["SM_CURRENT_HOST"])
dist.init_process_group("gloo", init_method=f"tcp://{hosts[0]}:{os.environ['MASTER_PORT']}",
                        rank=rank, world_size=len(hosts))
torch.manual_seed(rank)  # different starting weights on purpose: DDP must make them equal
model = torch.nn.parallel.DistributedDataParallel(torch.nn.Linear(4, 1))
optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
steps = int(os.environ["SM_HP_STEPS"])
step_counter = torch.zeros(1)
for step in range(steps):
    x = torch.randn(8, 4)
    loss = ((model(x) - x.sum(dim=1, keepdim=True)) ** 2).mean()
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    if rank == 0:
        step_counter += 1
dist.all_reduce(step_counter)  # counted once per global step, on rank 0 only
flat = torch.cat([p.detach().flatten() for p in model.parameters()])
gathered = [torch.zeros_like(flat) for _ in hosts]
dist.all_gather(gathered, flat)
identical = all(torch.equal(gathered[0], g) for g in gathered)
print(f"rank={rank} world={dist.get_world_size()} global_steps={int(step_counter.item())} identical={identical}")
if rank == 0:
    torch.save(model.module.state_dict(), os.path.join(os.environ["SM_MODEL_DIR"], "model.pth"))
    with open(os.path.join(os.environ["SM_MODEL_DIR"], "params.json"), "w") as f:
        json.dump({"ranks_identical": identical, "global_steps": int(step_counter.item())}, f)
dist.destroy_process_group()
"""


def _model_files(session: kiln.Session, uri: str) -> dict[str, bytes]:
    with tarfile.open(fileobj=io.BytesIO(session.read_artifact(uri)), mode="r:gz") as tar:
        return {m.name: tar.extractfile(m).read() for m in tar.getmembers() if m.isfile()}  # type: ignore[union-attr]


@pytest.mark.parametrize("hosts", [2, 3])
def test_a_data_parallel_job_keeps_every_rank_identical(
    session: kiln.Session, write_script, hosts: int, capsys: pytest.CaptureFixture[str]
) -> None:
    source = write_script(DDP_SCRIPT)
    estimator = kiln.PyTorch(
        "train.py",
        source_dir=str(source),
        instance_count=hosts,
        hyperparameters={"steps": 20},
        sagemaker_session=session,
    )
    estimator.fit()
    printed = capsys.readouterr().out
    for rank in range(hosts):
        assert f"[algo-{rank + 1}] rank={rank} world={hosts} global_steps=20 identical=True" in printed
    files = _model_files(session, estimator.model_data)
    assert json.loads(files["params.json"]) == {"ranks_identical": True, "global_steps": 20}
    description = estimator.latest_training_job.describe()  # type: ignore[union-attr]
    assert description["ResourceConfig"]["InstanceCount"] == hosts
    assert description["BillableTimeInSeconds"] >= hosts


def test_sharded_channels_give_each_host_a_disjoint_share(
    session: kiln.Session, write_script, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    data.mkdir()
    for i in range(6):
        (data / f"part-{i}.csv").write_text(str(i))
    uri = session.upload_data(data, key_prefix=f"shards/{tmp_path.name}")
    source = write_script(
        """
        import os
        print("files", sorted(os.listdir(os.environ["SM_CHANNEL_TRAINING"])), "all", sorted(os.listdir(os.environ["SM_CHANNEL_FULL"])))
        """
    )
    estimator = kiln.Estimator(
        "train.py", source_dir=str(source), instance_count=2, sagemaker_session=session
    )
    estimator.fit(
        {"training": kiln.TrainingInput(uri, distribution="ShardedByS3Key"), "full": uri}, logs=False
    )
    events = session.client.training_job_logs(estimator.latest_training_job.name)["Events"]  # type: ignore[union-attr]
    seen = {e["host"]: e["message"] for e in events if e["message"].startswith("files")}
    everything = [f"part-{i}.csv" for i in range(6)]
    shares = [eval(seen[h].split("files ")[1].split(" all")[0]) for h in ("algo-1", "algo-2")]
    assert sorted(shares[0] + shares[1]) == everything
    assert not set(shares[0]) & set(shares[1])
    assert all(str(everything) in seen[h] for h in ("algo-1", "algo-2"))


def test_a_failing_host_fails_the_job_with_its_reason_and_stops_the_others(
    server: RunningServer, session: kiln.Session, write_script
) -> None:
    source = write_script(
        """
        import os, time
        if os.environ["SM_CURRENT_HOST"] == "algo-2":
            raise RuntimeError("host two ran out of data")
        while True:
            time.sleep(0.1)
        """
    )
    estimator = kiln.Estimator(
        "train.py", source_dir=str(source), instance_count=2, sagemaker_session=session
    )
    with pytest.raises(UnexpectedStatusException):
        estimator.fit(logs=False)
    name = estimator.latest_training_job.name  # type: ignore[union-attr]
    description = session.describe_training_job(name)
    assert description["FailureReason"].startswith("algo-2: ")
    assert description["FailureReason"].endswith("RuntimeError: host two ran out of data")
    wait_until(lambda: processes_mentioning(str(server.home / "jobs" / name)) == [], timeout=20)


CHECKPOINTING_SCRIPT = """
import os, sys, time
checkpoints = "/opt/ml/checkpoints" if os.path.isdir("/opt/ml/checkpoints") else os.environ["SAGEMAKER_BASE_DIR"] + "/checkpoints"
path = os.path.join(checkpoints, "step.txt")
start = int(open(path).read()) if os.path.exists(path) else 0
print(f"resuming from step {start}", flush=True)
for step in range(start, 80):  # ~20 s: long enough to be killed mid-run on a busy machine
    with open(path + ".tmp", "w") as f:
        f.write(str(step + 1))
    os.replace(path + ".tmp", path)
    print(f"step={step + 1}", flush=True)
    time.sleep(0.25)
open(os.path.join(os.environ["SM_MODEL_DIR"], "final.txt"), "w").write(open(path).read())
"""


def _stored_step(session: kiln.Session, uri: str) -> int:
    try:
        return int(session.read_artifact(uri))
    except NotFound:
        return 0


def _kill_host_process(server: RunningServer, name: str, host: str) -> None:
    runtime = wait_until(
        lambda: [p for p in processes_mentioning(str(server.home / "jobs" / name / host / "host.json"))],
        timeout=20,
    )
    runtime[0].send_signal(signal.SIGKILL)


def test_a_killed_host_fails_a_job_without_retries_and_leaves_no_process(
    server: RunningServer, session: kiln.Session, write_script
) -> None:
    source = write_script(CHECKPOINTING_SCRIPT)
    estimator = kiln.Estimator("train.py", source_dir=str(source), sagemaker_session=session)
    estimator.fit(wait=False)
    name = estimator.latest_training_job.name  # type: ignore[union-attr]
    wait_until(
        lambda: any(e["message"] == "step=3" for e in session.client.training_job_logs(name)["Events"])
    )
    _kill_host_process(server, name, "algo-1")
    final = wait_until(
        lambda: (d := session.describe_training_job(name))["TrainingJobStatus"] == "Failed" and d
    )
    assert "host algo-1 was killed by signal SIGKILL" in final["FailureReason"]
    wait_until(lambda: processes_mentioning(str(server.home / "jobs" / name)) == [], timeout=20)


def test_a_host_that_dies_without_a_result_fails_the_job_with_its_last_output(
    server: RunningServer, session: kiln.Session, write_script
) -> None:
    source = write_script(CHECKPOINTING_SCRIPT)
    estimator = kiln.Estimator("train.py", source_dir=str(source), sagemaker_session=session)
    estimator.fit(wait=False)
    name = estimator.latest_training_job.name  # type: ignore[union-attr]
    wait_until(
        lambda: any(e["message"] == "step=3" for e in session.client.training_job_logs(name)["Events"])
    )
    runtime = wait_until(
        lambda: processes_mentioning(str(server.home / "jobs" / name / "algo-1" / "host.json")), timeout=20
    )[0]
    # The runtime's own output is its crash log, which only the executor knows where to find.
    with open(f"/proc/{runtime.pid}/fd/1", "a") as output:
        output.write("RuntimeError: the runtime fell over\n")
    runtime.send_signal(signal.SIGKILL)

    final = wait_until(
        lambda: (d := session.describe_training_job(name))["TrainingJobStatus"] == "Failed" and d
    )
    assert "host algo-1 was killed by signal SIGKILL" in final["FailureReason"]
    assert "its last output: RuntimeError: the runtime fell over" in final["FailureReason"]


def test_with_retries_a_killed_host_resumes_from_its_checkpoint(
    server: RunningServer, session: kiln.Session, write_script, tmp_path: Path
) -> None:
    source = write_script(CHECKPOINTING_SCRIPT)
    checkpoints = f"{session.bucket_uri()}/checkpoints/{tmp_path.name}"
    estimator = kiln.Estimator(
        "train.py",
        source_dir=str(source),
        checkpoint_s3_uri=checkpoints,
        max_retry_attempts=1,
        sagemaker_session=session,
    )
    estimator.fit(wait=False)
    name = estimator.latest_training_job.name  # type: ignore[union-attr]
    # Wait until a checkpoint past step 10 has reached the store, then kill the host.
    wait_until(lambda: _stored_step(session, f"{checkpoints}/step.txt") >= 5, timeout=30)
    _kill_host_process(server, name, "algo-1")
    final = wait_until(
        lambda: (
            (d := session.describe_training_job(name))["TrainingJobStatus"] in ("Completed", "Failed") and d
        ),
        timeout=60,
    )
    assert final["TrainingJobStatus"] == "Completed", final.get("FailureReason")
    statuses = [t["Status"] for t in final["SecondaryStatusTransitions"]]
    assert "Restarting" in statuses
    messages = [e["message"] for e in session.client.training_job_logs(name, limit=5000)["Events"]]
    resumed = [m for m in messages if m.startswith("resuming from step")]
    assert resumed[0] == "resuming from step 0"
    assert int(resumed[1].split()[-1]) >= 5  # the second attempt started from the checkpoint
    assert _model_files(session, estimator.model_data) == {"final.txt": b"80"}
    assert final["BillableTimeInSeconds"] >= 10  # both attempts are billed
    assert psutil.pid_exists(server.process.pid)
