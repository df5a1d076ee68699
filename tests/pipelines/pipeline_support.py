"""What the pipeline tests share: a REST door to the pipeline operations, tiny processing steps in
SageMaker's definition format (as the SageMaker SDK emits them), and waits."""

from __future__ import annotations

import json
import textwrap
import uuid
from typing import Any

import kiln
from conftest import wait_until

SKLEARN_IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3"
CODE_DIR = "/opt/ml/processing/input/code"
ROLE = "arn:aws:iam::000000000000:role/SageMakerRole"
EXECUTION_ID = {"Get": "Execution.PipelineExecutionId"}


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def upload_code(session: kiln.Session, prefix: str, body: str, name: str = "script.py") -> str:
    return session.upload_bytes(
        textwrap.dedent(body).encode(), f"{session.bucket_uri()}/{prefix}/code/{name}"
    )


def join(*values: Any, on: str = "/") -> dict[str, Any]:
    return {"Std:Join": {"On": on, "Values": list(values)}}


def processing_step(
    name: str,
    code_uri: str,
    *,
    inputs: list[tuple[str, Any]] = (),  # type: ignore[assignment]
    outputs: list[str] = (),  # type: ignore[assignment]
    output_root: str = "",
    environment: dict[str, Any] | None = None,
    cache: bool = False,
    **extra: Any,
) -> dict[str, Any]:
    """A Processing step running ``python3 <code>``; inputs land in /opt/ml/processing/input/<name>,
    outputs go from /opt/ml/processing/output/<name> to <output_root>/<execution id>/<step>/<name>."""
    processing_inputs = [
        {
            "InputName": input_name,
            "AppManaged": False,
            "S3Input": {
                "S3Uri": uri,
                "LocalPath": f"/opt/ml/processing/input/{input_name}",
                "S3DataType": "S3Prefix",
                "S3InputMode": "File",
                "S3DataDistributionType": "FullyReplicated",
                "S3CompressionType": "None",
            },
        }
        for input_name, uri in [*inputs, ("code", code_uri)]
    ]
    arguments: dict[str, Any] = {
        "ProcessingResources": {
            "ClusterConfig": {"InstanceCount": 1, "InstanceType": "local", "VolumeSizeInGB": 30}
        },
        "AppSpecification": {
            "ImageUri": SKLEARN_IMAGE,
            "ContainerEntrypoint": ["python3", f"{CODE_DIR}/{code_uri.rsplit('/', 1)[-1]}"],
        },
        "RoleArn": ROLE,
        "ProcessingInputs": processing_inputs,
    }
    if outputs:
        arguments["ProcessingOutputConfig"] = {
            "Outputs": [
                {
                    "OutputName": output,
                    "AppManaged": False,
                    "S3Output": {
                        "S3Uri": join(output_root, EXECUTION_ID, name, output),
                        "LocalPath": f"/opt/ml/processing/output/{output}",
                        "S3UploadMode": "EndOfJob",
                    },
                }
                for output in outputs
            ]
        }
    if environment:
        arguments["Environment"] = environment
    step: dict[str, Any] = {"Name": name, "Type": "Processing", "Arguments": arguments, **extra}
    if cache:
        step["CacheConfig"] = {"Enabled": True, "ExpireAfter": "PT1H"}
    return step


def output_uri(step: str, output: str) -> dict[str, str]:
    return {"Get": f"Steps.{step}.ProcessingOutputConfig.Outputs['{output}'].S3Output.S3Uri"}


def definition(steps: list[dict[str, Any]], parameters: list[dict[str, Any]] = ()) -> str:  # type: ignore[assignment]
    return json.dumps(
        {"Version": "2020-12-01", "Metadata": {}, "Parameters": list(parameters), "Steps": steps}
    )


def create_pipeline(session: kiln.Session, name: str, document: str) -> dict[str, Any]:
    created: dict[str, Any] = session.client.call(
        "POST", "/pipelines", json={"PipelineName": name, "PipelineDefinition": document, "RoleArn": ROLE}
    )
    return created


def start(session: kiln.Session, name: str, **parameters: Any) -> str:
    body = {"PipelineParameters": [{"Name": k, "Value": str(v)} for k, v in parameters.items()]}
    arn: str = session.client.call("POST", f"/pipelines/{name}/executions", json=body)["PipelineExecutionArn"]
    return arn.rsplit("/", 1)[-1]


def describe(session: kiln.Session, execution_id: str) -> dict[str, Any]:
    described: dict[str, Any] = session.client.call("GET", f"/pipeline-executions/{execution_id}")
    return described


def steps(session: kiln.Session, execution_id: str) -> dict[str, dict[str, Any]]:
    listed = session.client.call(
        "GET", f"/pipeline-executions/{execution_id}/steps", params={"sort_order": "Ascending"}
    )["PipelineExecutionSteps"]
    return {s["StepName"]: s for s in listed}


def wait_for_execution(session: kiln.Session, execution_id: str, timeout: float = 120) -> dict[str, Any]:
    described: dict[str, Any] = wait_until(
        lambda: (
            (d := describe(session, execution_id))["PipelineExecutionStatus"]
            in ("Succeeded", "Failed", "Stopped")
            and d
        ),
        timeout=timeout,
        interval=0.2,
    )
    return described


def pipeline_jobs(session: kiln.Session, execution_id: str) -> list[str]:
    """The processing jobs the execution created (by the names it gives them)."""
    return sorted(
        j["ProcessingJobName"]
        for j in session.client.list_processing_jobs(name_contains=f"pipelines-{execution_id}-")
    )
