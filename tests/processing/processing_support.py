"""Helpers for processing-job tests: a tiny script uploaded as the job's code, and a request in
SageMaker's CreateProcessingJob shape (as the SageMaker SDK sends it)."""

from __future__ import annotations

import textwrap
import uuid
from typing import Any

import kiln
from conftest import wait_until

SKLEARN_IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3"
CODE_DIR = "/opt/ml/processing/input/code"


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def upload_code(session: kiln.Session, job: str, body: str, name: str = "script.py") -> str:
    """The script, where the SDK puts it: ``<bucket>/<job>/input/code/<file>``."""
    return session.upload_bytes(
        textwrap.dedent(body).encode(), f"{session.bucket_uri()}/{job}/input/code/{name}"
    )


def s3_input(name: str, uri: str, local: str, distribution: str = "FullyReplicated") -> dict[str, Any]:
    return {
        "InputName": name,
        "AppManaged": False,
        "S3Input": {
            "S3Uri": uri,
            "LocalPath": local,
            "S3DataType": "S3Prefix",
            "S3InputMode": "File",
            "S3DataDistributionType": distribution,
            "S3CompressionType": "None",
        },
    }


def s3_output(name: str, uri: str, local: str, mode: str = "EndOfJob") -> dict[str, Any]:
    return {
        "OutputName": name,
        "AppManaged": False,
        "S3Output": {"S3Uri": uri, "LocalPath": local, "S3UploadMode": mode},
    }


def processing_request(
    job: str,
    code_uri: str,
    *,
    inputs: list[dict[str, Any]] = (),  # type: ignore[assignment]
    outputs: list[dict[str, Any]] = (),  # type: ignore[assignment]
    arguments: list[str] | None = None,
    count: int = 1,
    environment: dict[str, str] | None = None,
    max_runtime: int | None = None,
    script: str = "script.py",
) -> dict[str, Any]:
    request: dict[str, Any] = {
        "ProcessingJobName": job,
        "ProcessingInputs": [*inputs, s3_input("code", code_uri, CODE_DIR)],
        "ProcessingResources": {
            "ClusterConfig": {"InstanceCount": count, "InstanceType": "local", "VolumeSizeInGB": 30}
        },
        "AppSpecification": {
            "ImageUri": SKLEARN_IMAGE,
            "ContainerEntrypoint": ["python3", f"{CODE_DIR}/{script}"],
        },
        "RoleArn": "arn:aws:iam::000000000000:role/SageMakerRole",
    }
    if outputs:
        request["ProcessingOutputConfig"] = {"Outputs": list(outputs)}
    if arguments is not None:
        request["AppSpecification"]["ContainerArguments"] = arguments
    if environment:
        request["Environment"] = environment
    if max_runtime:
        request["StoppingCondition"] = {"MaxRuntimeInSeconds": max_runtime}
    return request


def wait_for_end(session: kiln.Session, job: str, timeout: float = 90) -> dict[str, Any]:
    described: dict[str, Any] = wait_until(
        lambda: (
            (d := session.client.describe_processing_job(job))["ProcessingJobStatus"]
            in ("Completed", "Failed", "Stopped")
            and d
        ),
        timeout=timeout,
    )
    return described
