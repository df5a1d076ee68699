"""Pipelines: the list, a pipeline's executions, and an execution's page (its step graph, parameters,
and each step's status with a link to its job)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from kiln.errors import NotFound
from kiln.records import PipelineStep
from kiln.server.console import services
from kiln.server.console.login import ConsoleAccess
from kiln.server.console.pipeline_graph import step_graph
from kiln.server.console.templating import message_page, render
from kiln.services.pipelines.definition import parse_definition

__all__ = ["router"]

router = APIRouter()


def _job_link(step: PipelineStep) -> str | None:
    if step.job_name is None:
        return None
    pages = {
        "Training": "/training-jobs/",
        "Processing": "/processing-jobs/",
        "Tuning": "/tuning-jobs/",
        "Transform": "/transform-jobs/",
        "Model": "/models#",
        "CreateModel": "/models#",
    }
    prefix = pages.get(step.step_type)
    return None if prefix is None else prefix + step.job_name


@router.get("/pipelines")
def pipeline_list(request: Request, _access: ConsoleAccess) -> Response:
    service = services.pipelines(request)
    rows = []
    for pipeline in service.list_pipelines(limit=200):
        executions = service.list_executions(pipeline.name)
        rows.append((pipeline, executions[0] if executions else None, len(executions)))
    return render(request, "pipelines.html", rows=rows)


@router.get("/pipelines/{name}")
def pipeline_page(request: Request, name: str, _access: ConsoleAccess) -> Response:
    service = services.pipelines(request)
    try:
        pipeline = service.describe(name)
    except NotFound as e:
        return message_page(request, "No such pipeline", e.message, 404)
    executions = service.list_executions(name)
    definition = parse_definition(pipeline.definition)
    return render(
        request,
        "pipeline.html",
        pipeline=pipeline,
        executions=executions,
        parameters=list(definition.parameters.values()),
        graph=step_graph(definition, {}, {}),
        in_progress=any(not e.status.is_terminal() for e in executions),
    )


@router.get("/pipeline-executions/{execution_id}")
def execution_page(request: Request, execution_id: str, _access: ConsoleAccess) -> Response:
    service = services.pipelines(request)
    try:
        execution = service.describe_execution(execution_id)
    except NotFound as e:
        return message_page(request, "No such pipeline execution", e.message, 404)
    steps = {s.step_name: s for s in service.list_steps(execution_id)}
    links = {name: link for name, step in steps.items() if (link := _job_link(step)) is not None}
    definition = parse_definition(execution.definition)
    return render(
        request,
        "pipeline_execution.html",
        execution=execution,
        steps=list(steps.values()),
        links=links,
        graph=step_graph(definition, steps, links),
        terminal=execution.status.is_terminal(),
    )
