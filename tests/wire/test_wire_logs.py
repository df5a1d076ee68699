"""CloudWatch Logs over Kiln's logs: a running job's lines streamed by polling GetLogEvents the way
``sagemaker.Session.logs_for_job`` does, FilterLogEvents, and an endpoint's instance logs."""

from __future__ import annotations

import time
from typing import Any

import pytest
from botocore.exceptions import ClientError
from wire_support import FAST, client, training_job_request, upload_code_and_data, use_kiln

from conftest import RunningServer

GROUP = "/aws/sagemaker/TrainingJobs"


@pytest.fixture(scope="module")
def uploaded(server: RunningServer, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    return upload_code_and_data(server, tmp_path_factory.mktemp("wire-logs"))


def _stream_of(logs: Any, job: str) -> str:
    """DescribeLogStreams until the job's one stream shows up, as the SDK waits for it."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        answer = logs.describe_log_streams(
            logGroupName=GROUP, logStreamNamePrefix=f"{job}/", orderBy="LogStreamName", limit=1
        )
        assert "nextToken" not in answer
        if answer["logStreams"]:
            return str(answer["logStreams"][0]["logStreamName"])
        time.sleep(0.2)
    raise AssertionError("no log stream")


def test_polling_get_log_events_streams_a_running_jobs_lines_once(
    server: RunningServer, uploaded: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    use_kiln(monkeypatch, server.url)
    sm, logs = client("sagemaker"), client("logs")
    name = "wire-logs-live"
    sm.create_training_job(
        **training_job_request(
            name, uploaded["source"], uploaded["data"], uploaded["output"], epochs=8, pause=0.3
        )
    )
    stream = _stream_of(logs, name)
    seen: list[str] = []
    token = None
    polls_with_lines = 0
    while True:
        status = sm.describe_training_job(TrainingJobName=name)["TrainingJobStatus"]
        while True:  # what logs_for_job does: page until a page has no events
            answer = logs.get_log_events(
                logGroupName=GROUP,
                logStreamName=stream,
                startTime=0,
                startFromHead=True,
                **({"nextToken": token} if token else {}),
            )
            assert answer["nextForwardToken"]
            if token is not None and not answer["events"]:
                assert answer["nextForwardToken"] == token  # at the end: the same token back
            token = answer["nextForwardToken"]
            if not answer["events"]:
                break
            polls_with_lines += 1
            seen += [e["message"] for e in answer["events"]]
        if status in ("Completed", "Failed", "Stopped"):
            break
        time.sleep(0.3)
    assert status == "Completed"
    epochs = [line for line in seen if line.startswith("epoch")]
    assert epochs == [f"epoch {i} loss={1 / (i + 1):.3f}" for i in range(8)]  # each line once, in order
    assert polls_with_lines > 1  # lines arrived while the job ran, not all at the end

    newest = logs.get_log_events(logGroupName=GROUP, logStreamName=stream, limit=2)
    assert [e["message"] for e in newest["events"]] == seen[-2:]
    earlier = logs.get_log_events(
        logGroupName=GROUP, logStreamName=stream, limit=2, nextToken=newest["nextBackwardToken"]
    )
    assert [e["message"] for e in earlier["events"]] == seen[-4:-2]

    found = logs.filter_log_events(
        logGroupName=GROUP, logStreamNamePrefix=f"{name}/", filterPattern='"loss=0.5"'
    )
    assert [e["message"] for e in found["events"]] == ["epoch 1 loss=0.500"]
    assert found["events"][0]["logStreamName"] == stream
    assert (
        logs.describe_log_streams(logGroupName=GROUP, logStreamNamePrefix="no-such-job/")["logStreams"] == []
    )
    with pytest.raises(ClientError) as missing:
        logs.get_log_events(logGroupName="/aws/sagemaker/Endpoints/no-such-endpoint", logStreamName="x/y")
    assert missing.value.response["Error"]["Code"] == "ResourceNotFoundException"


def test_an_endpoints_instances_have_log_streams(
    server: RunningServer, uploaded: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    use_kiln(monkeypatch, server.url)
    sm, logs = client("sagemaker"), client("logs")
    name = "wire-logs-endpoint"
    sm.create_training_job(
        **training_job_request(name, uploaded["source"], uploaded["data"], uploaded["output"], epochs=1)
    )
    sm.get_waiter("training_job_completed_or_stopped").wait(TrainingJobName=name, WaiterConfig=FAST)
    artifacts = sm.describe_training_job(TrainingJobName=name)["ModelArtifacts"]["S3ModelArtifacts"]
    sm.create_model(
        ModelName=name,
        PrimaryContainer={
            "Image": "763104351884.dkr.ecr.us-east-1.amazonaws.com/pytorch-inference:2.1-cpu-py310",
            "ModelDataUrl": artifacts,
            "Environment": {
                "SAGEMAKER_PROGRAM": "inference.py",
                "SAGEMAKER_SUBMIT_DIRECTORY": uploaded["source"],
            },
        },
    )
    sm.create_endpoint_config(
        EndpointConfigName=name,
        ProductionVariants=[
            {
                "VariantName": "main",
                "ModelName": name,
                "InitialInstanceCount": 1,
                "InstanceType": "local",
            }
        ],
    )
    sm.create_endpoint(EndpointName=name, EndpointConfigName=name)
    try:
        sm.get_waiter("endpoint_in_service").wait(EndpointName=name, WaiterConfig=FAST)
        group = f"/aws/sagemaker/Endpoints/{name}"
        (stream,) = logs.describe_log_streams(logGroupName=group)["logStreams"]
        assert stream["logStreamName"].startswith("main/")
        events = logs.get_log_events(
            logGroupName=group, logStreamName=stream["logStreamName"], startFromHead=True
        )
        assert events["events"], "the instance logged its start"
    finally:
        sm.delete_endpoint(EndpointName=name)
        sm.get_waiter("endpoint_deleted").wait(EndpointName=name, WaiterConfig=FAST)
        sm.delete_endpoint_config(EndpointConfigName=name)
        sm.delete_model(ModelName=name)
