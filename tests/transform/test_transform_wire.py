"""Batch transform through boto3 on Kiln's AWS wire: every answer checked against botocore's output shape."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from botocore.exceptions import ClientError
from tests.transform.transform_support import create_linear_model, predict
from tests.wire.wire_support import client, use_kiln

from conftest import RunningServer

FAST = {"Delay": 1, "MaxAttempts": 120}


def test_create_wait_describe_list_and_stop_through_boto3(
    server: RunningServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    session = server.session()
    data = f"s3://{session.default_bucket()}/wire-transform"  # on S3 too: the store's own bucket
    model = create_linear_model(session, tmp_path / "model")
    rows = np.random.default_rng(4).integers(0, 50, size=(300, 3)).astype(float)
    text = "".join(",".join(str(int(v)) for v in row) + "\n" for row in rows)
    session.client.upload(text.encode(), f"{data}/in/data.csv")
    session.close()
    use_kiln(monkeypatch, server.url)
    sm, s3 = client("sagemaker"), client("s3")
    request = {
        "ModelName": model,
        "TransformInput": {
            "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": f"{data}/in/"}},
            "ContentType": "text/csv",
            "CompressionType": "None",
            "SplitType": "Line",
        },
        "TransformOutput": {
            "S3OutputPath": f"{data}/out",
            "Accept": "text/csv",
            "AssembleWith": "Line",
        },
        "TransformResources": {"InstanceType": "ml.m5.large", "InstanceCount": 1},
        "BatchStrategy": "MultiRecord",
        "MaxPayloadInMB": 6,
        "MaxConcurrentTransforms": 1,
        "ModelClientConfig": {"InvocationsTimeoutInSeconds": 60, "InvocationsMaxRetries": 1},
        "Environment": {"EXTRA": "1"},
        "Tags": [{"Key": "team", "Value": "wire"}],
    }
    arn = sm.create_transform_job(TransformJobName="wire-transform", **request)["TransformJobArn"]
    assert arn.endswith(":transform-job/wire-transform")
    sm.get_waiter("transform_job_completed_or_stopped").wait(
        TransformJobName="wire-transform", WaiterConfig=FAST
    )
    described = sm.describe_transform_job(TransformJobName="wire-transform")
    assert described["TransformJobStatus"] == "Completed", described.get("FailureReason")
    assert described["TransformResources"] == request["TransformResources"]
    assert described["TransformStartTime"] <= described["TransformEndTime"]
    body = (
        s3.get_object(Bucket=data.split("/")[2], Key="wire-transform/out/data.csv.out")["Body"]
        .read()
        .decode()
    )
    np.testing.assert_allclose([float(v) for v in body.split()], predict(rows))

    listed = sm.list_transform_jobs(StatusEquals="Completed", NameContains="wire-")["TransformJobSummaries"]
    assert [j["TransformJobName"] for j in listed] == ["wire-transform"]
    with pytest.raises(ClientError, match="ResourceInUse"):
        sm.create_transform_job(TransformJobName="wire-transform", **request)
    with pytest.raises(ClientError, match="Could not find model"):
        sm.create_transform_job(TransformJobName="no-model", **{**request, "ModelName": "missing"})
    with pytest.raises(ClientError, match="Requested resource not found"):
        sm.describe_transform_job(TransformJobName="missing")
    sm.stop_transform_job(TransformJobName="wire-transform")  # an ended job: nothing changes
    assert sm.describe_transform_job(TransformJobName="wire-transform")["TransformJobStatus"] == "Completed"
