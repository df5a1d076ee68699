"""SageMaker's batch transform operations, on ``TransformJobService``."""

from __future__ import annotations

from typing import Any

from kiln.server.schemas.transform_jobs import (
    CreateTransformJobRequest,
    describe_transform_job,
    summarize_transform_job,
)
from kiln.server.wire._base import WireCall
from kiln.server.wire.operations import Operation, select_page
from kiln.server.wire.requests import accept_typed, refuse_unsupported
from kiln.server.wire.sagemaker_tags import store_tags

__all__ = ["TRANSFORM_OPERATIONS"]

LIST_ALL = 10_000
REQUESTED_RESOURCE_NOT_FOUND = "Requested resource not found."  # SageMaker's words for a missing job
# Members that change what runs: refused rather than ignored.
UNSUPPORTED = {
    "DataCaptureConfig": "batch transform data capture is not supported; leave it out",
    "BatchDataCaptureConfig": "batch transform data capture is not supported; leave it out",
}


def create_transform_job(call: WireCall, params: dict[str, Any]) -> dict[str, Any]:
    refuse_unsupported(params, UNSUPPORTED)
    request, submitted = accept_typed(CreateTransformJobRequest, params)
    job = call.state.transform_jobs.create(request, as_submitted=submitted)
    store_tags(call, f"transform-job/{job.name}", params)
    return {"TransformJobArn": call.arn(f"transform-job/{job.name}")}


def describe_transform(call: WireCall, params: dict[str, Any]) -> dict[str, Any]:
    job = call.state.transform_jobs.describe(params["TransformJobName"])
    return describe_transform_job(job, kiln_fields=False)


def list_transform_jobs(call: WireCall, params: dict[str, Any]) -> dict[str, Any]:
    summaries = [summarize_transform_job(j) for j in call.state.transform_jobs.list_jobs(limit=LIST_ALL)]
    chosen, token = select_page(
        summaries,
        params,
        name_key="TransformJobName",
        status_key="TransformJobStatus",
        sort_keys={
            "Name": "TransformJobName",
            "CreationTime": "CreationTime",
            "Status": "TransformJobStatus",
        },
    )
    return {"TransformJobSummaries": chosen, "NextToken": token}


def stop_transform_job(call: WireCall, params: dict[str, Any]) -> dict[str, Any]:
    call.state.transform_jobs.stop(params["TransformJobName"])
    return {}


def _job_not_found(_call: WireCall, _params: dict[str, Any]) -> tuple[str, str]:
    return "ValidationException", REQUESTED_RESOURCE_NOT_FOUND


def _duplicate_job(call: WireCall, params: dict[str, Any]) -> tuple[str, str]:
    arn = call.arn(f"transform-job/{params.get('TransformJobName', '')}")
    return (
        "ResourceInUse",
        "Job name must be unique within an AWS account and region, and a job with this name already "
        f"exists ({arn})",
    )


def _model_or_job_missing(call: WireCall, params: dict[str, Any]) -> tuple[str, str]:
    return (
        "ValidationException",
        f'Could not find model "{call.arn("model/" + str(params.get("ModelName", "")))}".',
    )


TRANSFORM_OPERATIONS = {
    "CreateTransformJob": Operation(
        create_transform_job, missing=_model_or_job_missing, conflict=_duplicate_job
    ),
    "DescribeTransformJob": Operation(describe_transform, missing=_job_not_found),
    "ListTransformJobs": Operation(list_transform_jobs),
    "StopTransformJob": Operation(stop_transform_job, missing=_job_not_found),
}
