"""Bad input through the wire gets the ClientError SageMaker would give (code, words, status) and
changes nothing."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError
from wire_support import (
    FAST,
    PYTORCH_INFERENCE_IMAGE,
    REGION,
    client,
    training_job_request,
    upload_code_and_data,
    use_kiln,
)

from conftest import RunningServer

ACCOUNT_ARN = f"arn:aws:sagemaker:{REGION}:000000000000"


@pytest.fixture(scope="module")
def uploaded(server: RunningServer, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    return upload_code_and_data(server, tmp_path_factory.mktemp("wire-errors"))


@pytest.fixture
def sm(server: RunningServer, monkeypatch: pytest.MonkeyPatch) -> Any:
    use_kiln(monkeypatch, server.url)
    return client("sagemaker")


@pytest.fixture(scope="module")
def finished_job(server: RunningServer, uploaded: dict[str, str]) -> str:
    with pytest.MonkeyPatch.context() as patch:
        use_kiln(patch, server.url)
        sm = client("sagemaker")
        name = "wire-errors-done"
        sm.create_training_job(
            **training_job_request(name, uploaded["source"], uploaded["data"], uploaded["output"], epochs=1)
        )
        sm.get_waiter("training_job_completed_or_stopped").wait(TrainingJobName=name, WaiterConfig=FAST)
    return name


def refusal(call: Any, **kwargs: Any) -> tuple[str, str, int]:
    with pytest.raises(ClientError) as raised:
        call(**kwargs)
    response = raised.value.response
    return (
        response["Error"]["Code"],
        response["Error"]["Message"],
        response["ResponseMetadata"]["HTTPStatusCode"],
    )


def job_names(sm: Any) -> set[str]:
    return {j["TrainingJobName"] for j in sm.list_training_jobs(MaxResults=100)["TrainingJobSummaries"]}


def test_a_missing_training_job_is_a_validation_exception_in_sagemakers_words(sm: Any) -> None:
    assert refusal(sm.describe_training_job, TrainingJobName="no-such-job") == (
        "ValidationException",
        "Requested resource not found.",
        400,
    )
    assert refusal(sm.stop_training_job, TrainingJobName="no-such-job")[:2] == (
        "ValidationException",
        "Requested resource not found.",
    )


def test_an_image_kiln_cannot_run_is_refused_naming_the_images_it_understands(
    sm: Any, uploaded: dict[str, str]
) -> None:
    request = training_job_request("wire-own-image", uploaded["source"], uploaded["data"], uploaded["output"])
    request["AlgorithmSpecification"]["TrainingImage"] = (
        "123456789012.dkr.ecr.us-east-1.amazonaws.com/my-own:latest"
    )
    code, message, status = refusal(sm.create_training_job, **request)
    assert (code, status) == ("ValidationException", 400)
    for known in ("pytorch-training", "tensorflow-training", "sagemaker-scikit-learn", "sagemaker-xgboost"):
        assert known in message
    assert "my-own:latest" in message
    del request["AlgorithmSpecification"]["TrainingImage"]
    request["AlgorithmSpecification"]["AlgorithmName"] = "some-marketplace-algorithm"
    assert "TrainingImage is required" in refusal(sm.create_training_job, **request)[1]
    assert "wire-own-image" not in job_names(sm)


def test_what_kiln_does_not_support_is_refused_before_anything_is_stored(
    sm: Any, uploaded: dict[str, str]
) -> None:
    request = training_job_request("wire-pipe-mode", uploaded["source"], uploaded["data"], uploaded["output"])
    request["AlgorithmSpecification"]["TrainingInputMode"] = "Pipe"
    code, message, _ = refusal(sm.create_training_job, **request)
    assert code == "ValidationException"
    assert "TrainingInputMode" in message
    request = training_job_request(
        "wire-no-data", uploaded["source"], uploaded["output"] + "/nothing-here", uploaded["output"]
    )
    code, message, _ = refusal(sm.create_training_job, **request)
    assert code == "ValidationException"
    assert "does not exist" in message
    request = training_job_request(
        "wire-entrypoint", uploaded["source"], uploaded["data"], uploaded["output"]
    )
    request["AlgorithmSpecification"]["ContainerArguments"] = ["run.sh"]  # no image entry point to take them
    code, message, _ = refusal(sm.create_training_job, **request)
    assert code == "ValidationException"
    assert "ContainerArguments needs a ContainerEntrypoint" in message
    assert not {"wire-pipe-mode", "wire-no-data", "wire-entrypoint"} & job_names(sm)


def test_a_duplicate_job_is_resource_in_use_and_stopping_an_ended_one_is_refused(
    sm: Any, uploaded: dict[str, str], finished_job: str
) -> None:
    before = sm.describe_training_job(TrainingJobName=finished_job)
    request = training_job_request(finished_job, uploaded["source"], uploaded["data"], uploaded["output"])
    code, message, status = refusal(sm.create_training_job, **request)
    assert (code, status) == ("ResourceInUse", 400)
    assert f"{ACCOUNT_ARN}:training-job/{finished_job}" in message
    assert refusal(sm.stop_training_job, TrainingJobName=finished_job)[:2] == (
        "ValidationException",
        "The request was rejected because the training job is in status Completed.",
    )
    after = sm.describe_training_job(TrainingJobName=finished_job)
    assert after["LastModifiedTime"] == before["LastModifiedTime"]
    assert after["HyperParameters"] == before["HyperParameters"]


def test_an_account_limit_is_resource_limit_exceeded(sm: Any, uploaded: dict[str, str]) -> None:
    request = training_job_request(
        "wire-too-many-gpus", uploaded["source"], uploaded["data"], uploaded["output"]
    )
    request["ResourceConfig"] = {"InstanceType": "ml.p3.2xlarge", "InstanceCount": 3, "VolumeSizeInGB": 10}
    code, message, status = refusal(sm.create_training_job, **request)
    assert (code, status) == ("ResourceLimitExceeded", 400)
    assert "ml.p3.2xlarge" in message
    assert "wire-too-many-gpus" not in job_names(sm)


def test_hosting_refusals_name_the_missing_resource_by_its_arn(sm: Any) -> None:
    assert refusal(sm.describe_model, ModelName="no-model")[:2] == (
        "ValidationException",
        f'Could not find model "{ACCOUNT_ARN}:model/no-model".',
    )
    assert refusal(sm.delete_model, ModelName="no-model")[0] == "ValidationException"
    variants = [
        {
            "VariantName": "v",
            "ModelName": "no-model",
            "InitialInstanceCount": 1,
            "InstanceType": "ml.m5.large",
        }
    ]
    assert refusal(sm.create_endpoint_config, EndpointConfigName="wire-cfg", ProductionVariants=variants)[
        :2
    ] == (
        "ValidationException",
        f'Could not find model "{ACCOUNT_ARN}:model/no-model".',
    )
    assert refusal(sm.create_endpoint, EndpointName="wire-ep", EndpointConfigName="no-config")[:2] == (
        "ValidationException",
        f'Could not find endpoint configuration "{ACCOUNT_ARN}:endpoint-config/no-config".',
    )
    for call in (sm.describe_endpoint, sm.delete_endpoint):
        assert refusal(call, EndpointName="no-endpoint")[:2] == (
            "ValidationException",
            f'Could not find endpoint "{ACCOUNT_ARN}:endpoint/no-endpoint".',
        )
    code, message, _ = refusal(
        sm.create_model,
        ModelName="wire-bad-image",
        PrimaryContainer={
            "Image": "nginx:latest",
            "Environment": {"SAGEMAKER_SUBMIT_DIRECTORY": "/opt/ml/model/code"},
        },
    )
    assert code == "ValidationException"
    assert "pytorch-inference" in message
    code, message, _ = refusal(
        sm.create_endpoint_config,
        EndpointConfigName="wire-cfg",
        ProductionVariants=variants,
        AsyncInferenceConfig={"OutputConfig": {"S3OutputPath": "s3://b/out"}},
    )
    assert code == "ValidationException"
    assert "AsyncInferenceConfig is not supported" in message
    assert not sm.list_endpoint_configs(NameContains="wire-cfg")["EndpointConfigs"]
    assert not sm.list_models(NameContains="wire-bad-image")["Models"]


def test_a_missing_tuning_job_is_resource_not_found(sm: Any) -> None:
    assert refusal(sm.describe_hyper_parameter_tuning_job, HyperParameterTuningJobName="no-tuning") == (
        "ResourceNotFound",
        "Amazon SageMaker can't find a tuning job with name no-tuning",
        400,
    )


def test_an_operation_kiln_does_not_serve_is_unknown(sm: Any) -> None:
    code, message, _ = refusal(sm.list_feature_groups)
    assert code == "UnknownOperationException"
    assert "ListFeatureGroups" in message


def test_pages_follow_next_token_and_a_bad_token_is_refused(sm: Any, finished_job: str) -> None:
    def every_name(page_size: int) -> list[str]:
        found: list[str] = []
        token = None
        while True:
            answer = sm.list_training_jobs(MaxResults=page_size, **({"NextToken": token} if token else {}))
            found += [j["TrainingJobName"] for j in answer["TrainingJobSummaries"]]
            token = answer.get("NextToken")
            if not token:
                return found

    names = every_name(100)  # the suite's shared server may hold more than one page of 100
    pages = every_name(1)
    assert pages == names
    assert finished_job in pages
    paginated = [
        j["TrainingJobName"]
        for page in sm.get_paginator("list_training_jobs").paginate(PaginationConfig={"PageSize": 1})
        for j in page["TrainingJobSummaries"]
    ]
    assert paginated == names
    assert refusal(sm.list_training_jobs, NextToken="not-a-token")[0] == "ValidationException"


def test_tags_are_added_listed_and_deleted_by_arn(sm: Any, finished_job: str) -> None:
    arn = f"{ACCOUNT_ARN}:training-job/{finished_job}"
    sm.add_tags(
        ResourceArn=arn, Tags=[{"Key": "owner", "Value": "alice"}, {"Key": "team", "Value": "vision"}]
    )
    assert sm.list_tags(ResourceArn=arn)["Tags"] == [
        {"Key": "team", "Value": "vision"},
        {"Key": "owner", "Value": "alice"},
    ]
    sm.delete_tags(ResourceArn=arn, TagKeys=["team"])
    assert sm.list_tags(ResourceArn=arn)["Tags"] == [{"Key": "owner", "Value": "alice"}]
    assert refusal(sm.list_tags, ResourceArn=f"{ACCOUNT_ARN}:model/no-model")[0] == "ValidationException"


def test_an_image_named_by_create_model_sets_the_runtime(sm: Any, finished_job: str) -> None:
    job = sm.describe_training_job(TrainingJobName=finished_job)
    sm.create_model(
        ModelName="wire-image-model",
        PrimaryContainer={
            "Image": PYTORCH_INFERENCE_IMAGE,
            "ModelDataUrl": job["ModelArtifacts"]["S3ModelArtifacts"],
            "Mode": "SingleModel",
        },
        EnableNetworkIsolation=True,
    )
    described = sm.describe_model(ModelName="wire-image-model")
    assert described["PrimaryContainer"]["Image"] == PYTORCH_INFERENCE_IMAGE
    assert described["EnableNetworkIsolation"] is True  # accepted, stored and echoed
    assert refusal(
        sm.create_model, ModelName="wire-image-model", PrimaryContainer=described["PrimaryContainer"]
    )[:2] == (
        "ValidationException",
        f'Cannot create already existing model "{ACCOUNT_ARN}:model/wire-image-model".',
    )
    sm.delete_model(ModelName="wire-image-model")


def test_deleting_the_config_before_the_endpoint_still_gives_its_capacity_back(
    sm: Any, server: RunningServer, finished_job: str
) -> None:
    """SageMaker's SDK (Predictor.delete_endpoint) deletes the endpoint config first."""
    name = "wire-config-first"
    job = sm.describe_training_job(TrainingJobName=finished_job)
    sm.create_model(
        ModelName=name,
        PrimaryContainer={
            "Image": PYTORCH_INFERENCE_IMAGE,
            "ModelDataUrl": job["ModelArtifacts"]["S3ModelArtifacts"],
            "Environment": {
                "SAGEMAKER_PROGRAM": "inference.py",
                "SAGEMAKER_SUBMIT_DIRECTORY": job["HyperParameters"]["sagemaker_submit_directory"].strip('"'),
            },
        },
    )
    variants = [
        {"VariantName": "v", "ModelName": name, "InitialInstanceCount": 1, "InstanceType": "ml.t3.medium"}
    ]
    sm.create_endpoint_config(EndpointConfigName=name, ProductionVariants=variants)
    sm.create_endpoint(EndpointName=name, EndpointConfigName=name)
    sm.get_waiter("endpoint_in_service").wait(EndpointName=name, WaiterConfig=FAST)

    def held() -> int:
        limits = server.client().call("GET", "/limits")["Limits"]
        return sum(
            e["CurrentUtilization"]
            for e in limits
            if e["InstanceType"] == "ml.t3.medium" and e["Use"] == "endpoint"
        )

    assert held() == 1
    sm.delete_endpoint_config(EndpointConfigName=name)
    sm.delete_endpoint(EndpointName=name)
    sm.get_waiter("endpoint_deleted").wait(EndpointName=name, WaiterConfig=FAST)
    sm.delete_model(ModelName=name)
    assert held() == 0
