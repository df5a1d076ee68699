"""SageMaker's processing-job operations, on ``ProcessingJobService``.

CreateProcessingJob's body is parsed into the same typed request as the REST door's (botocore's input
shape has already checked its members), so both refuse alike. Refusals are worded as SageMaker
words them for processing jobs.
"""

from __future__ import annotations

from typing import Any

from kiln.server.schemas.processing_jobs import describe_processing_job, summarize_processing_job
from kiln.server.wire._base import WireCall
from kiln.server.wire.operations import Operation, select_page
from kiln.server.wire.sagemaker_tags import store_tags
from kiln.services.processing_request import parse_processing_request

__all__ = ["PROCESSING_OPERATIONS"]

LIST_ALL = 10_000  # a List answer filters and pages in the wire; the service lists this many at most


def create_processing_job(call: WireCall, params: dict[str, Any]) -> dict[str, Any]:
    request = parse_processing_request({k: v for k, v in params.items() if k != "Tags"})
    job = call.state.processing_jobs.create(request)
    store_tags(call, f"processing-job/{job.name}", params)
    return {"ProcessingJobArn": call.arn(f"processing-job/{job.name}")}


def describe_processing(call: WireCall, params: dict[str, Any]) -> dict[str, Any]:
    return describe_processing_job(call.state.processing_jobs.describe(params["ProcessingJobName"]))


def list_processing_jobs(call: WireCall, params: dict[str, Any]) -> dict[str, Any]:
    jobs = call.state.processing_jobs.list_jobs(limit=LIST_ALL)
    chosen, token = select_page(
        [summarize_processing_job(j) for j in jobs],
        params,
        name_key="ProcessingJobName",
        status_key="ProcessingJobStatus",
        sort_keys={
            "Name": "ProcessingJobName",
            "CreationTime": "CreationTime",
            "Status": "ProcessingJobStatus",
        },
        default_order="Ascending",
    )
    return {"ProcessingJobSummaries": chosen, "NextToken": token}


def stop_processing_job(call: WireCall, params: dict[str, Any]) -> dict[str, Any]:
    call.state.processing_jobs.stop(params["ProcessingJobName"])
    return {}


def _not_found(_call: WireCall, params: dict[str, Any]) -> tuple[str, str]:
    return (
        "ValidationException",
        f"Could not find requested job with name {params.get('ProcessingJobName', '')}",
    )


def _duplicate(call: WireCall, params: dict[str, Any]) -> tuple[str, str]:
    arn = call.arn(f"processing-job/{params.get('ProcessingJobName', '')}")
    return (
        "ResourceInUse",
        "Job name must be unique within an AWS account and region, and a job with this name already "
        f"exists ({arn})",
    )


def _cannot_stop(call: WireCall, params: dict[str, Any]) -> tuple[str, str]:
    job = call.state.processing_jobs.describe(params["ProcessingJobName"])
    return (
        "ValidationException",
        f"The request was rejected because the processing job is in status {job.status.value}.",
    )


PROCESSING_OPERATIONS: dict[str, Operation] = {
    "CreateProcessingJob": Operation(create_processing_job, conflict=_duplicate),
    "DescribeProcessingJob": Operation(describe_processing, missing=_not_found),
    "ListProcessingJobs": Operation(list_processing_jobs),
    "StopProcessingJob": Operation(stop_processing_job, missing=_not_found, conflict=_cannot_stop),
}
