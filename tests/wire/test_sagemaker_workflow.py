"""boto3, unmodified, with only AWS_ENDPOINT_URL and keys: SageMaker's whole workflow on Kiln."""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError
from wire_support import (
    FAST,
    PYTORCH_INFERENCE_IMAGE,
    REGION,
    ROLE,
    client,
    training_job_request,
    upload_code_and_data,
    use_kiln,
)

from conftest import RunningServer


@pytest.fixture(scope="module")
def uploaded(server: RunningServer, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    return upload_code_and_data(server, tmp_path_factory.mktemp("wire-flow"))


def test_train_deploy_invoke_delete_as_sagemakers_documentation_shows(
    server: RunningServer, uploaded: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    use_kiln(monkeypatch, server.url)
    sm = client("sagemaker")
    runtime = client("sagemaker-runtime")
    logs = client("logs")
    name = "wire-flow-job"
    request = training_job_request(name, uploaded["source"], uploaded["data"], uploaded["output"], factor=3)

    arn = sm.create_training_job(**request)["TrainingJobArn"]
    assert arn == f"arn:aws:sagemaker:{REGION}:000000000000:training-job/{name}"
    sm.get_waiter("training_job_completed_or_stopped").wait(TrainingJobName=name, WaiterConfig=FAST)

    job = sm.describe_training_job(TrainingJobName=name)
    assert job["TrainingJobStatus"] == "Completed", job.get("FailureReason")
    assert job["SecondaryStatus"] == "Completed"
    assert (
        job["AlgorithmSpecification"]["TrainingImage"] == request["AlgorithmSpecification"]["TrainingImage"]
    )
    for ignored in (
        "DebugHookConfig",
        "ProfilerConfig",
        "VpcConfig",
        "EnableNetworkIsolation",
        "Environment",
    ):
        assert job[ignored] == request[ignored], ignored  # accepted, stored and echoed
    assert job["CreationTime"] <= job["TrainingStartTime"] <= job["TrainingEndTime"]
    assert [t["Status"] for t in job["SecondaryStatusTransitions"]][-1] == "Completed"
    assert {m["MetricName"] for m in job["FinalMetricDataList"]} == {"train:loss"}
    artifacts = job["ModelArtifacts"]["S3ModelArtifacts"]
    assert artifacts == f"{uploaded['output']}/{name}/output/model.tar.gz"  # s3:// as given, not the store's
    assert job["InputDataConfig"] == request["InputDataConfig"]
    assert job["HyperParameters"] == request["HyperParameters"]
    bucket, _, key = artifacts[len("s3://") :].partition("/")
    assert client("s3").head_object(Bucket=bucket, Key=key)["ContentLength"] > 0  # what the SDK repacks
    assert sm.list_tags(ResourceArn=arn)["Tags"] == [{"Key": "team", "Value": "ml"}]

    streams = logs.describe_log_streams(
        logGroupName="/aws/sagemaker/TrainingJobs", logStreamNamePrefix=f"{name}/", orderBy="LogStreamName"
    )
    assert "nextToken" not in streams  # the SDK would ask again forever
    (stream,) = streams["logStreams"]
    epoch = int(job["CreationTime"].timestamp())
    assert stream["logStreamName"] == f"{name}/algo-1-{epoch}"
    first = logs.get_log_events(
        logGroupName="/aws/sagemaker/TrainingJobs", logStreamName=stream["logStreamName"], startFromHead=True
    )
    messages = [e["message"] for e in first["events"]]
    assert [m for m in messages if m.startswith("epoch")] == [
        "epoch 0 loss=1.000",
        "epoch 1 loss=0.500",
        "epoch 2 loss=0.333",
    ]
    end = logs.get_log_events(
        logGroupName="/aws/sagemaker/TrainingJobs",
        logStreamName=stream["logStreamName"],
        startFromHead=True,
        nextToken=first["nextForwardToken"],
    )
    assert end["events"] == []
    assert end["nextForwardToken"] == first["nextForwardToken"]

    sm.create_model(
        ModelName=name,
        ExecutionRoleArn=ROLE,
        PrimaryContainer={
            "Image": PYTORCH_INFERENCE_IMAGE,
            "ModelDataUrl": artifacts,
            "Environment": {
                "SAGEMAKER_PROGRAM": "inference.py",
                "SAGEMAKER_SUBMIT_DIRECTORY": uploaded["source"],
                "SAGEMAKER_CONTAINER_LOG_LEVEL": "20",
                "SAGEMAKER_REGION": REGION,
            },
        },
    )
    sm.create_endpoint_config(
        EndpointConfigName=name,
        ProductionVariants=[
            {
                "VariantName": "AllTraffic",
                "ModelName": name,
                "InitialInstanceCount": 1,
                "InstanceType": "local",  # Kiln's unscheduled type: a busy test machine never refuses it
                "InitialVariantWeight": 1.0,
                "VolumeSizeInGB": 4,  # accepted, not acted on
            }
        ],
    )
    sm.create_endpoint(EndpointName=name, EndpointConfigName=name, Tags=[{"Key": "stage", "Value": "test"}])
    try:
        sm.get_waiter("endpoint_in_service").wait(EndpointName=name, WaiterConfig=FAST)
        endpoint = sm.describe_endpoint(EndpointName=name)
        assert endpoint["EndpointStatus"] == "InService"
        assert endpoint["ProductionVariants"][0]["CurrentInstanceCount"] == 1

        answer = runtime.invoke_endpoint(
            EndpointName=name,
            Body=json.dumps([1, 2.5]),
            ContentType="application/json",
            Accept="application/json",
        )
        assert json.loads(answer["Body"].read()) == [6.0, 15.0]  # factor 3 × scale 2
        assert answer["ContentType"] == "application/json"
        assert answer["InvokedProductionVariant"] == "AllTraffic"

        config = sm.describe_endpoint_config(EndpointConfigName=name)
        assert config["ProductionVariants"][0]["VolumeSizeInGB"] == 4  # accepted, stored, echoed
        model = sm.describe_model(ModelName=name)
        assert model["PrimaryContainer"]["Environment"]["SAGEMAKER_PROGRAM"] == "inference.py"

        sm.update_endpoint_weights_and_capacities(
            EndpointName=name,
            DesiredWeightsAndCapacities=[{"VariantName": "AllTraffic", "DesiredWeight": 2.0}],
        )
        sm.get_waiter("endpoint_in_service").wait(EndpointName=name, WaiterConfig=FAST)
        assert sm.describe_endpoint(EndpointName=name)["ProductionVariants"][0]["CurrentWeight"] == 2.0
        sm.create_endpoint_config(
            EndpointConfigName=f"{name}-v2",
            ProductionVariants=[
                {"VariantName": "Blue", "ModelName": name, "InitialInstanceCount": 1, "InstanceType": "local"}
            ],
        )
        sm.update_endpoint(EndpointName=name, EndpointConfigName=f"{name}-v2")
        sm.get_waiter("endpoint_in_service").wait(EndpointName=name, WaiterConfig=FAST)
        updated = sm.describe_endpoint(EndpointName=name)
        assert updated["EndpointConfigName"] == f"{name}-v2"
        answer = runtime.invoke_endpoint(EndpointName=name, Body=b"[1]", ContentType="application/json")
        assert answer["InvokedProductionVariant"] == "Blue"

        with pytest.raises(ClientError) as refused:
            runtime.invoke_endpoint(EndpointName=name, Body=json.dumps([-1]), ContentType="application/json")
        error = refused.value.response
        assert error["Error"]["Code"] == "ModelError"
        assert error["ResponseMetadata"]["HTTPStatusCode"] == 424
        assert "negative inputs are not allowed" in error["OriginalMessage"]
        assert error["OriginalStatusCode"] >= 400
    finally:
        sm.delete_endpoint(EndpointName=name)
    sm.get_waiter("endpoint_deleted").wait(EndpointName=name, WaiterConfig=FAST)
    sm.delete_endpoint_config(EndpointConfigName=name)
    sm.delete_endpoint_config(EndpointConfigName=f"{name}-v2")
    sm.delete_model(ModelName=name)
    assert name not in [m["ModelName"] for m in sm.list_models()["Models"]]
    with pytest.raises(ClientError) as gone:
        runtime.invoke_endpoint(EndpointName=name, Body=b"[1]", ContentType="application/json")
    assert gone.value.response["Error"]["Code"] == "ValidationError"
