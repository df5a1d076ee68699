"""boto3, unmodified, runs the built-in XGBoost algorithm as SageMaker's documentation shows it.

CreateTrainingJob names the algorithm's image and no script; the job's metrics are the algorithm's
own (no MetricDefinitions in the request), and the model serves through InvokeEndpoint as CSV.
"""

from __future__ import annotations

import numpy as np
import pytest
from wire_support import FAST, ROLE, client, use_kiln

from conftest import RunningServer
from kiln.algorithms.data import csv_bytes

datasets = pytest.importorskip("sklearn.datasets")
pytest.importorskip("xgboost")

IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1"


def test_create_training_job_with_the_xgboost_image(
    server: RunningServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_kiln(monkeypatch, server.url)
    x, y = datasets.load_breast_cancer(return_X_y=True)
    s3, sm, runtime = client("s3"), client("sagemaker"), client("sagemaker-runtime")
    bucket = "wire-builtin-xgboost"
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="train/train.csv", Body=csv_bytes(x[:400], y[:400]))
    s3.put_object(Bucket=bucket, Key="validation/validation.csv", Body=csv_bytes(x[400:], y[400:]))

    def channel(name: str) -> dict[str, object]:
        source = {
            "S3DataType": "S3Prefix",
            "S3Uri": f"s3://{bucket}/{name}",
            "S3DataDistributionType": "FullyReplicated",
        }
        return {"ChannelName": name, "DataSource": {"S3DataSource": source}, "ContentType": "text/csv"}

    name = "wire-builtin-xgboost"
    sm.create_training_job(
        TrainingJobName=name,
        AlgorithmSpecification={"TrainingImage": IMAGE, "TrainingInputMode": "File"},
        RoleArn=ROLE,
        InputDataConfig=[channel("train"), channel("validation")],
        OutputDataConfig={"S3OutputPath": f"s3://{bucket}/output"},
        ResourceConfig={"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 5},
        StoppingCondition={"MaxRuntimeInSeconds": 600},
        HyperParameters={
            "objective": "binary:logistic",
            "num_round": "10",
            "eval_metric": "auc",
            "max_depth": "3",
        },
    )
    sm.get_waiter("training_job_completed_or_stopped").wait(TrainingJobName=name, WaiterConfig=FAST)
    job = sm.describe_training_job(TrainingJobName=name)
    assert job["TrainingJobStatus"] == "Completed", job.get("FailureReason")
    final = {m["MetricName"]: m["Value"] for m in job["FinalMetricDataList"]}
    assert final["validation:auc"] > 0.95
    assert {"Name": "validation:auc", "Regex": r".*\[[0-9]+\].*(?:#011|\t)validation-auc:(\S+)"} in job[
        "AlgorithmSpecification"
    ]["MetricDefinitions"]

    sm.create_model(
        ModelName=name,
        PrimaryContainer={"Image": IMAGE, "ModelDataUrl": job["ModelArtifacts"]["S3ModelArtifacts"]},
        ExecutionRoleArn=ROLE,
    )
    sm.create_endpoint_config(
        EndpointConfigName=name,
        ProductionVariants=[
            {
                "VariantName": "AllTraffic",
                "ModelName": name,
                "InitialInstanceCount": 1,
                "InstanceType": "ml.m5.large",
            }
        ],
    )
    sm.create_endpoint(EndpointName=name, EndpointConfigName=name)
    sm.get_waiter("endpoint_in_service").wait(EndpointName=name, WaiterConfig=FAST)
    try:
        answer = runtime.invoke_endpoint(
            EndpointName=name, ContentType="text/csv", Accept="text/csv", Body=csv_bytes(x[400:405])
        )["Body"].read()
        scores = np.array([float(v) for v in answer.decode().split()])
        assert scores.shape == (5,)
        assert ((scores > 0.5) == y[400:405]).all()
    finally:
        sm.delete_endpoint(EndpointName=name)
