"""Pipelines through the AWS wire: boto3, unmodified, every answer checked against botocore's output
shape (``wire_support.client``): create (a duplicate worded as the SageMaker SDK's upsert expects),
update, start with parameters, describe, list executions and steps, stop, delete."""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError
from pipeline_support import definition, processing_step, unique
from tests.wire.wire_support import REGION, ROLE, client, ensure_bucket, use_kiln

from conftest import RunningServer, wait_until

BUCKET = "pipeline-wire"
SCRIPT = b"import os, time\ntime.sleep(float(os.environ.get('PAUSE', '0')))\nprint('label', os.environ['LABEL'], flush=True)\n"


@pytest.fixture
def sm(server: RunningServer, monkeypatch: pytest.MonkeyPatch) -> Any:
    use_kiln(monkeypatch, server.url)
    s3 = client("s3")
    ensure_bucket(s3, BUCKET)
    s3.put_object(Bucket=BUCKET, Key="code/script.py", Body=SCRIPT)
    return client("sagemaker")


def _definition(pause: str = "0") -> str:
    environment = {"LABEL": {"Get": "Parameters.Label"}, "PAUSE": pause}
    return definition(
        [processing_step("Say", f"s3://{BUCKET}/code/script.py", environment=environment)],
        [{"Name": "Label", "Type": "String", "DefaultValue": "hello"}],
    )


def _wait(sm: Any, execution: str) -> dict[str, Any]:
    """botocore has no pipeline waiter (the SageMaker SDK polls DescribePipelineExecution itself)."""
    described: dict[str, Any] = wait_until(
        lambda: (
            (d := sm.describe_pipeline_execution(PipelineExecutionArn=execution))["PipelineExecutionStatus"]
            in ("Succeeded", "Failed", "Stopped")
            and d
        ),
        timeout=90,
        interval=0.2,
    )
    return described


def test_create_start_wait_and_list_through_boto3(sm: Any) -> None:
    name = unique("wire")
    arn = sm.create_pipeline(
        PipelineName=name,
        PipelineDefinition=_definition(),
        RoleArn=ROLE,
        Tags=[{"Key": "team", "Value": "ml"}],
    )["PipelineArn"]
    assert arn == f"arn:aws:sagemaker:{REGION}:000000000000:pipeline/{name}"
    with pytest.raises(ClientError) as duplicate:
        sm.create_pipeline(PipelineName=name, PipelineDefinition=_definition(), RoleArn=ROLE)
    assert duplicate.value.response["Error"]["Code"] == "ValidationException"
    assert "already exists" in duplicate.value.response["Error"]["Message"]
    assert (
        sm.update_pipeline(PipelineName=name, PipelineDefinition=_definition(), PipelineDescription="said")[
            "PipelineArn"
        ]
        == arn
    )
    described = sm.describe_pipeline(PipelineName=name)
    assert described["PipelineStatus"] == "Active"
    assert described["PipelineDescription"] == "said"
    assert json.loads(described["PipelineDefinition"])["Steps"][0]["Name"] == "Say"
    assert sm.list_tags(ResourceArn=arn)["Tags"] == [{"Key": "team", "Value": "ml"}]
    assert [p["PipelineName"] for p in sm.list_pipelines(PipelineNamePrefix=name)["PipelineSummaries"]] == [
        name
    ]

    execution = sm.start_pipeline_execution(
        PipelineName=name, PipelineParameters=[{"Name": "Label", "Value": "wired"}]
    )["PipelineExecutionArn"]
    assert execution.startswith(f"{arn}/execution/")
    done = _wait(sm, execution)
    assert done["PipelineExecutionStatus"] == "Succeeded"
    assert done["PipelineArn"] == arn
    steps = sm.list_pipeline_execution_steps(PipelineExecutionArn=execution)["PipelineExecutionSteps"]
    assert [(s["StepName"], s["StepStatus"]) for s in steps] == [("Say", "Succeeded")]
    job_arn = steps[0]["Metadata"]["ProcessingJob"]["Arn"]
    assert job_arn.startswith(f"arn:aws:sagemaker:{REGION}:000000000000:processing-job/pipelines-")
    job = sm.describe_processing_job(ProcessingJobName=job_arn.rsplit("/", 1)[-1])
    assert job["Environment"]["LABEL"] == "wired"
    parameters = sm.list_pipeline_parameters_for_execution(PipelineExecutionArn=execution)[
        "PipelineParameters"
    ]
    assert parameters == [{"Name": "Label", "Value": "wired"}]
    summaries = sm.list_pipeline_executions(PipelineName=name)["PipelineExecutionSummaries"]
    assert [(s["PipelineExecutionArn"], s["PipelineExecutionStatus"]) for s in summaries] == [
        (execution, "Succeeded")
    ]

    with pytest.raises(ClientError) as ended:
        sm.stop_pipeline_execution(PipelineExecutionArn=execution)
    assert ended.value.response["Error"]["Code"] == "ConflictException"
    assert sm.delete_pipeline(PipelineName=name)["PipelineArn"] == arn
    with pytest.raises(ClientError) as missing:
        sm.describe_pipeline(PipelineName=name)
    assert missing.value.response["Error"]["Code"] == "ResourceNotFound"


def test_stop_through_boto3(sm: Any) -> None:
    name = unique("wire-stop")
    sm.create_pipeline(PipelineName=name, PipelineDefinition=_definition(pause="60"), RoleArn=ROLE)
    execution = sm.start_pipeline_execution(PipelineName=name)["PipelineExecutionArn"]
    assert sm.stop_pipeline_execution(PipelineExecutionArn=execution)["PipelineExecutionArn"] == execution
    assert _wait(sm, execution)["PipelineExecutionStatus"] == "Stopped"
