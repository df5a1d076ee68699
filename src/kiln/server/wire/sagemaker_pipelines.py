"""SageMaker's pipeline operations, on ``PipelineService``.

The SageMaker SDK's ``Pipeline.upsert`` calls CreatePipeline and falls back to UpdatePipeline only on
a ValidationException whose message says "already exists", so a duplicate is worded that way.
"""

from __future__ import annotations

from typing import Any

from kiln.records import pipeline_arn
from kiln.server.schemas.pipelines import (
    describe_pipeline,
    describe_pipeline_execution,
    summarize_pipeline,
    summarize_pipeline_execution,
    summarize_step,
)
from kiln.server.wire._base import WireCall
from kiln.server.wire.operations import Operation, select_page
from kiln.server.wire.paging import page
from kiln.server.wire.sagemaker_tags import forget_tags, store_tags

__all__ = ["PIPELINE_OPERATIONS"]

LIST_ALL = 10_000  # a List answer filters and pages in the wire; the service lists this many at most


def create_pipeline(call: WireCall, params: dict[str, Any]) -> dict[str, Any]:
    pipeline = call.state.pipelines.create(params)
    store_tags(call, f"pipeline/{pipeline.name}", params)
    return {"PipelineArn": pipeline_arn(pipeline.name)}


def update_pipeline(call: WireCall, params: dict[str, Any]) -> dict[str, Any]:
    return {"PipelineArn": pipeline_arn(call.state.pipelines.update(params).name)}


def describe(call: WireCall, params: dict[str, Any]) -> dict[str, Any]:
    return describe_pipeline(call.state.pipelines.describe(params["PipelineName"]))


def list_pipelines(call: WireCall, params: dict[str, Any]) -> dict[str, Any]:
    prefix = params.get("PipelineNamePrefix") or ""
    found = [p for p in call.state.pipelines.list_pipelines(limit=LIST_ALL) if p.name.startswith(prefix)]
    chosen, token = select_page(
        [summarize_pipeline(p) for p in found],
        {
            **params,
            "CreationTimeAfter": params.get("CreatedAfter"),
            "CreationTimeBefore": params.get("CreatedBefore"),
        },
        name_key="PipelineName",
        sort_keys={"Name": "PipelineName", "CreationTime": "CreationTime"},
    )
    return {"PipelineSummaries": chosen, "NextToken": token}


def delete_pipeline(call: WireCall, params: dict[str, Any]) -> dict[str, Any]:
    deleted = call.state.pipelines.delete(params["PipelineName"])
    forget_tags(call, f"pipeline/{deleted.name}")
    return {"PipelineArn": pipeline_arn(deleted.name)}


def start_execution(call: WireCall, params: dict[str, Any]) -> dict[str, Any]:
    return {"PipelineExecutionArn": call.state.pipelines.start(params).arn}


def describe_execution(call: WireCall, params: dict[str, Any]) -> dict[str, Any]:
    return describe_pipeline_execution(
        call.state.pipelines.describe_execution(params["PipelineExecutionArn"])
    )


def list_executions(call: WireCall, params: dict[str, Any]) -> dict[str, Any]:
    found = call.state.pipelines.list_executions(params["PipelineName"])
    chosen, token = select_page(
        [summarize_pipeline_execution(e) for e in found],
        {
            **params,
            "NameContains": None,
            "CreationTimeAfter": params.get("CreatedAfter"),
            "CreationTimeBefore": params.get("CreatedBefore"),
        },
        name_key="PipelineExecutionArn",
        sort_keys={"CreationTime": "StartTime", "PipelineExecutionArn": "PipelineExecutionArn"},
    )
    return {"PipelineExecutionSummaries": chosen, "NextToken": token}


def list_steps(call: WireCall, params: dict[str, Any]) -> dict[str, Any]:
    steps = [summarize_step(s) for s in call.state.pipelines.list_steps(params["PipelineExecutionArn"])]
    if (params.get("SortOrder") or "Descending") == "Descending":
        steps.reverse()
    chosen, token = page(steps, params, default=100)
    return {"PipelineExecutionSteps": chosen, "NextToken": token}


def list_parameters(call: WireCall, params: dict[str, Any]) -> dict[str, Any]:
    execution = call.state.pipelines.describe_execution(params["PipelineExecutionArn"])
    chosen, token = page(describe_pipeline_execution(execution)["PipelineParameters"], params, default=100)
    return {"PipelineParameters": chosen, "NextToken": token}


def stop_execution(call: WireCall, params: dict[str, Any]) -> dict[str, Any]:
    return {"PipelineExecutionArn": call.state.pipelines.stop(params["PipelineExecutionArn"]).arn}


def _pipeline_missing(call: WireCall, params: dict[str, Any]) -> tuple[str, str]:
    name = str(params.get("PipelineName", ""))
    arn = name if name.startswith("arn:") else call.arn(f"pipeline/{name}")
    return "ResourceNotFound", f"Pipeline '{arn}' does not exist."


def _execution_missing(_call: WireCall, params: dict[str, Any]) -> tuple[str, str]:
    return (
        "ResourceNotFound",
        f"Pipeline execution '{params.get('PipelineExecutionArn', '')}' does not exist.",
    )


def _duplicate(call: WireCall, params: dict[str, Any]) -> tuple[str, str]:
    arn = call.arn(f"pipeline/{params.get('PipelineName', '')}")
    return (
        "ValidationException",
        "Pipeline names must be unique within an AWS account and region. Pipeline with name "
        f"({arn}) already exists.",
    )


def _cannot_stop(_call: WireCall, params: dict[str, Any]) -> tuple[str, str]:
    return (
        "ConflictException",
        f"Pipeline execution '{params.get('PipelineExecutionArn', '')}' has ended and cannot be stopped.",
    )


def _still_running(call: WireCall, params: dict[str, Any]) -> tuple[str, str]:
    return (
        "ConflictException",
        f"Pipeline '{params.get('PipelineName', '')}' has running executions; stop them before deleting it.",
    )


PIPELINE_OPERATIONS: dict[str, Operation] = {
    "CreatePipeline": Operation(create_pipeline, conflict=_duplicate),
    "UpdatePipeline": Operation(update_pipeline, missing=_pipeline_missing),
    "DescribePipeline": Operation(describe, missing=_pipeline_missing),
    "ListPipelines": Operation(list_pipelines),
    "DeletePipeline": Operation(delete_pipeline, missing=_pipeline_missing, conflict=_still_running),
    "StartPipelineExecution": Operation(start_execution, missing=_pipeline_missing),
    "DescribePipelineExecution": Operation(describe_execution, missing=_execution_missing),
    "ListPipelineExecutions": Operation(list_executions, missing=_pipeline_missing),
    "ListPipelineExecutionSteps": Operation(list_steps, missing=_execution_missing),
    "ListPipelineParametersForExecution": Operation(list_parameters, missing=_execution_missing),
    "StopPipelineExecution": Operation(stop_execution, missing=_execution_missing, conflict=_cannot_stop),
}
