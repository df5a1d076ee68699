"""Processing jobs through the AWS wire: boto3, unmodified, as SageMaker's documentation shows it,
every answer checked against botocore's output shape (``wire_support.client``)."""

from __future__ import annotations

import time
from typing import Any

import pytest
from botocore.exceptions import ClientError
from tests.wire.wire_support import FAST, REGION, ROLE, client, ensure_bucket, use_kiln

from conftest import RunningServer

SKLEARN_IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3"
BUCKET = "processing-wire"
PREPROCESS = b"""
import os, sys
rows = open("/opt/ml/processing/input/data/raw.csv").read().splitlines()
os.makedirs("/opt/ml/processing/output/train", exist_ok=True)
with open("/opt/ml/processing/output/train/train.csv", "w") as out:
    out.write("\\n".join(r.upper() for r in rows[1:]))
print("split ratio", sys.argv[sys.argv.index("--train-test-split-ratio") + 1], flush=True)
"""


def _request(name: str, script: str = "preprocess.py", **overrides: Any) -> dict[str, Any]:
    """CreateProcessingJob as the SageMaker SDK's SKLearnProcessor sends it."""
    request: dict[str, Any] = {
        "ProcessingJobName": name,
        "ProcessingInputs": [
            {
                "InputName": "input-1",
                "AppManaged": False,
                "S3Input": {
                    "S3Uri": f"s3://{BUCKET}/raw/raw.csv",
                    "LocalPath": "/opt/ml/processing/input/data",
                    "S3DataType": "S3Prefix",
                    "S3InputMode": "File",
                    "S3DataDistributionType": "FullyReplicated",
                    "S3CompressionType": "None",
                },
            },
            {
                "InputName": "code",
                "AppManaged": False,
                "S3Input": {
                    "S3Uri": f"s3://{BUCKET}/code/{script}",
                    "LocalPath": "/opt/ml/processing/input/code",
                    "S3DataType": "S3Prefix",
                    "S3InputMode": "File",
                    "S3DataDistributionType": "FullyReplicated",
                    "S3CompressionType": "None",
                },
            },
        ],
        "ProcessingOutputConfig": {
            "Outputs": [
                {
                    "OutputName": "train",
                    "AppManaged": False,
                    "S3Output": {
                        "S3Uri": f"s3://{BUCKET}/{name}/output/train",
                        "LocalPath": "/opt/ml/processing/output/train",
                        "S3UploadMode": "EndOfJob",
                    },
                }
            ]
        },
        "ProcessingResources": {
            "ClusterConfig": {"InstanceCount": 1, "InstanceType": "ml.m5.xlarge", "VolumeSizeInGB": 30}
        },
        "StoppingCondition": {"MaxRuntimeInSeconds": 600},
        "AppSpecification": {
            "ImageUri": SKLEARN_IMAGE,
            "ContainerEntrypoint": ["python3", f"/opt/ml/processing/input/code/{script}"],
            "ContainerArguments": ["--train-test-split-ratio", "0.2"],
        },
        "RoleArn": ROLE,
        "Tags": [{"Key": "team", "Value": "data"}],
    }
    request.update(overrides)
    return request


@pytest.fixture
def sm(server: RunningServer, monkeypatch: pytest.MonkeyPatch) -> Any:
    use_kiln(monkeypatch, server.url)
    s3 = client("s3")
    ensure_bucket(s3, BUCKET)
    s3.put_object(Bucket=BUCKET, Key="raw/raw.csv", Body=b"header\na\nb\n")
    s3.put_object(Bucket=BUCKET, Key="code/preprocess.py", Body=PREPROCESS)
    s3.put_object(
        Bucket=BUCKET, Key="code/sleep.py", Body=b"import time\nprint('up', flush=True)\ntime.sleep(120)\n"
    )
    return client("sagemaker")


def _refusal(call: Any, **kwargs: Any) -> tuple[str, str]:
    with pytest.raises(ClientError) as raised:
        call(**kwargs)
    return raised.value.response["Error"]["Code"], raised.value.response["Error"]["Message"]


def test_create_wait_describe_list_and_logs_through_boto3(sm: Any) -> None:
    name = f"wire-processing-{int(time.time() * 1000)}"
    arn = sm.create_processing_job(**_request(name))["ProcessingJobArn"]
    assert arn == f"arn:aws:sagemaker:{REGION}:000000000000:processing-job/{name}"
    sm.get_waiter("processing_job_completed_or_stopped").wait(ProcessingJobName=name, WaiterConfig=FAST)

    job = sm.describe_processing_job(ProcessingJobName=name)
    assert job["ProcessingJobStatus"] == "Completed", job.get("FailureReason")
    assert job["ProcessingJobArn"] == arn
    assert job["AppSpecification"]["ContainerArguments"] == ["--train-test-split-ratio", "0.2"]
    assert job["CreationTime"] <= job["ProcessingStartTime"] <= job["ProcessingEndTime"]
    assert job["ProcessingResources"]["ClusterConfig"]["InstanceType"] == "ml.m5.xlarge"
    body = client("s3").get_object(Bucket=BUCKET, Key=f"{name}/output/train/train.csv")["Body"].read()
    assert body == b"A\nB"

    summaries = sm.list_processing_jobs(NameContains=name)["ProcessingJobSummaries"]
    assert [(s["ProcessingJobName"], s["ProcessingJobStatus"]) for s in summaries] == [(name, "Completed")]
    assert sm.list_tags(ResourceArn=arn)["Tags"] == [{"Key": "team", "Value": "data"}]

    logs = client("logs")
    streams = logs.describe_log_streams(
        logGroupName="/aws/sagemaker/ProcessingJobs", logStreamNamePrefix=f"{name}/"
    )["logStreams"]
    assert len(streams) == 1
    assert streams[0]["logStreamName"].startswith(f"{name}/algo-1-")
    events = logs.get_log_events(
        logGroupName="/aws/sagemaker/ProcessingJobs",
        logStreamName=streams[0]["logStreamName"],
        startFromHead=True,
    )["events"]
    assert "split ratio 0.2" in [e["message"] for e in events]

    assert _refusal(sm.create_processing_job, **_request(name))[0] == "ResourceInUse"
    assert _refusal(sm.stop_processing_job, ProcessingJobName=name) == (
        "ValidationException",
        "The request was rejected because the processing job is in status Completed.",
    )


def test_stop_missing_and_refused_images(sm: Any) -> None:
    name = f"wire-stop-{int(time.time() * 1000)}"
    sm.create_processing_job(**_request(name, script="sleep.py"))
    deadline = time.monotonic() + 30
    while sm.describe_processing_job(ProcessingJobName=name).get("ProcessingStartTime") is None:
        assert time.monotonic() < deadline
        time.sleep(0.2)
    sm.stop_processing_job(ProcessingJobName=name)
    sm.get_waiter("processing_job_completed_or_stopped").wait(ProcessingJobName=name, WaiterConfig=FAST)
    assert sm.describe_processing_job(ProcessingJobName=name)["ProcessingJobStatus"] == "Stopped"

    assert _refusal(sm.describe_processing_job, ProcessingJobName="no-such-processing") == (
        "ValidationException",
        "Could not find requested job with name no-such-processing",
    )
    other = _request(f"{name}-img")
    other["AppSpecification"]["ImageUri"] = "123456789012.dkr.ecr.us-east-1.amazonaws.com/my-own:latest"
    code, message = _refusal(sm.create_processing_job, **other)
    assert code == "ValidationException"
    assert "my-own" in message
