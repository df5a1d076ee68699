"""/api/v1/pipelines and /api/v1/pipeline-executions: SageMaker's pipeline operations.

Bodies are SageMaker's requests (CreatePipeline, UpdatePipeline, StartPipelineExecution) with
SageMaker's field names; PipelineDefinition may be the JSON string boto3 sends or the object itself.
An execution is named by its id (the last part of its ARN).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body, Query

from kiln.errors import ValidationError
from kiln.records import pipeline_arn
from kiln.server.deps import Pipelines
from kiln.server.schemas.pipelines import (
    describe_pipeline,
    describe_pipeline_execution,
    summarize_pipeline,
    summarize_pipeline_execution,
    summarize_step,
)

router = APIRouter(tags=["pipelines"])


@router.post("/pipelines", status_code=201)
def create_pipeline(
    pipelines: Pipelines,
    request: dict[str, Any] = Body(..., description="CreatePipeline's request (SageMaker's field names)"),
) -> dict[str, Any]:
    return {"PipelineArn": pipeline_arn(pipelines.create(request).name)}


@router.get("/pipelines")
def list_pipelines(
    pipelines: Pipelines, limit: int = Query(100, ge=1, le=1000), offset: int = Query(0, ge=0)
) -> dict[str, Any]:
    return {
        "PipelineSummaries": [
            summarize_pipeline(p) for p in pipelines.list_pipelines(limit=limit, offset=offset)
        ]
    }


@router.get("/pipelines/{name}")
def describe(name: str, pipelines: Pipelines) -> dict[str, Any]:
    return describe_pipeline(pipelines.describe(name))


@router.put("/pipelines/{name}")
def update_pipeline(
    name: str,
    pipelines: Pipelines,
    request: dict[str, Any] = Body(..., description="UpdatePipeline's request (SageMaker's field names)"),
) -> dict[str, Any]:
    return {"PipelineArn": pipeline_arn(pipelines.update({**request, "PipelineName": name}).name)}


@router.delete("/pipelines/{name}")
def delete_pipeline(name: str, pipelines: Pipelines) -> dict[str, Any]:
    return {"PipelineArn": pipeline_arn(pipelines.delete(name).name)}


@router.post("/pipelines/{name}/executions", status_code=201)
def start_execution(
    name: str,
    pipelines: Pipelines,
    request: dict[str, Any] = Body(
        default_factory=dict, description="StartPipelineExecution's request (SageMaker's field names)"
    ),
) -> dict[str, Any]:
    return {"PipelineExecutionArn": pipelines.start({**request, "PipelineName": name}).arn}


@router.get("/pipelines/{name}/executions")
def list_executions(name: str, pipelines: Pipelines) -> dict[str, Any]:
    found = pipelines.list_executions(name)
    return {"PipelineExecutionSummaries": [summarize_pipeline_execution(e) for e in found]}


@router.get("/pipeline-executions/{execution_id}")
def describe_execution(execution_id: str, pipelines: Pipelines) -> dict[str, Any]:
    return describe_pipeline_execution(pipelines.describe_execution(execution_id))


@router.get("/pipeline-executions/{execution_id}/steps")
def list_steps(execution_id: str, pipelines: Pipelines, sort_order: str = "Descending") -> dict[str, Any]:
    """Newest first unless ``sort_order`` is Ascending (SageMaker's SortOrder)."""
    if sort_order not in ("Ascending", "Descending"):
        raise ValidationError(f"sort_order {sort_order!r} is not valid; use Ascending or Descending")
    steps = pipelines.list_steps(execution_id)
    if sort_order == "Descending":
        steps.reverse()
    return {"PipelineExecutionSteps": [summarize_step(s) for s in steps]}


@router.post("/pipeline-executions/{execution_id}/stop")
def stop_execution(execution_id: str, pipelines: Pipelines) -> dict[str, Any]:
    return {"PipelineExecutionArn": pipelines.stop(execution_id).arn}
