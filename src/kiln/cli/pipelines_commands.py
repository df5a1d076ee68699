"""``kiln pipelines list|describe|start|executions|steps|stop``."""

from __future__ import annotations

import json

import typer

from kiln.cli import common
from kiln.cli.output import console, print_json, print_table

app = typer.Typer(help="Pipelines and their executions.", no_args_is_help=True)


def _when(value: str | None) -> str:
    return (value or "")[:19].replace("T", " ")


def _execution_id(execution: str) -> str:
    return execution.rsplit("/", 1)[-1]


@app.command("list")
def list_pipelines(as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """List pipelines, newest first."""
    pipelines = common.client().call("GET", "/pipelines")["PipelineSummaries"]
    if as_json:
        print_json(pipelines)
        return
    print_table(
        None,
        ["Name", "Created", "Modified"],
        [(p["PipelineName"], _when(p["CreationTime"]), _when(p["LastModifiedTime"])) for p in pipelines],
    )


@app.command()
def describe(name: str, as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """Describe a pipeline: its parameters and steps (SageMaker's DescribePipeline)."""
    pipeline = common.client().call("GET", f"/pipelines/{name}")
    if as_json:
        print_json(pipeline)
        return
    definition = json.loads(pipeline["PipelineDefinition"])
    console.print(f"[bold]{pipeline['PipelineName']}[/bold]  {pipeline['PipelineArn']}")
    print_table(
        "Parameters",
        ["Name", "Type", "Default"],
        [
            (p["Name"], p.get("Type", "String"), p.get("DefaultValue", ""))
            for p in definition.get("Parameters", [])
        ],
    )
    print_table(
        "Steps",
        ["Name", "Type", "Depends on"],
        [(s["Name"], s["Type"], ", ".join(s.get("DependsOn", []))) for s in definition["Steps"]],
    )


def _parameter(value: str) -> dict[str, str]:
    name, given = common.pair(value, "--parameter")
    return {"Name": name, "Value": given}


@app.command()
def start(
    name: str,
    parameter: list[str] = typer.Option([], "--parameter", "-p", help="NAME=VALUE (repeatable)."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Start an execution of pipeline NAME."""
    body = {"PipelineParameters": [_parameter(p) for p in parameter]}
    started = common.client().call("POST", f"/pipelines/{name}/executions", json=body)
    if as_json:
        print_json(started)
        return
    arn = started["PipelineExecutionArn"]
    console.print(f"Started {arn}; follow it with `kiln pipelines steps {_execution_id(arn)}`")


@app.command()
def executions(name: str, as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """List pipeline NAME's executions, newest first."""
    found = common.client().call("GET", f"/pipelines/{name}/executions")["PipelineExecutionSummaries"]
    if as_json:
        print_json(found)
        return
    print_table(
        None,
        ["Execution", "Status", "Started", "Failure"],
        [
            (
                _execution_id(e["PipelineExecutionArn"]),
                e["PipelineExecutionStatus"],
                _when(e["StartTime"]),
                e.get("PipelineExecutionFailureReason", ""),
            )
            for e in found
        ],
    )


@app.command()
def steps(execution: str, as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """List an execution's steps (by its id or ARN) in the order they started, with their jobs."""
    client = common.client()
    execution_id = _execution_id(execution)
    described = client.call("GET", f"/pipeline-executions/{execution_id}")
    listed = client.call(
        "GET", f"/pipeline-executions/{execution_id}/steps", params={"sort_order": "Ascending"}
    )["PipelineExecutionSteps"]
    if as_json:
        print_json({"Execution": described, "Steps": listed})
        return
    status = described["PipelineExecutionStatus"]
    reason = f": {described['FailureReason']}" if described.get("FailureReason") else ""
    console.print(f"Execution {execution_id}: {status}{reason}")
    print_table(
        None,
        ["Step", "Type", "Status", "Job", "Cached from", "Failure"],
        [
            (
                s["StepName"],
                s.get("StepType", ""),
                s["StepStatus"],
                s.get("JobName", ""),
                _execution_id(s["CacheHitResult"]["SourcePipelineExecutionArn"])
                if "CacheHitResult" in s
                else "",
                s.get("FailureReason", ""),
            )
            for s in listed
        ],
    )


@app.command()
def stop(execution: str) -> None:
    """Stop an execution (by its id or ARN): its running steps' jobs are stopped."""
    stopped = common.client().call("POST", f"/pipeline-executions/{_execution_id(execution)}/stop")
    console.print(f"Stopping {stopped['PipelineExecutionArn']}")
