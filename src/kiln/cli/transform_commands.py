"""``kiln transform MODEL --input URI --output URI`` and ``kiln transform-jobs list|describe|stop|logs``."""

from __future__ import annotations

import json

import typer

from kiln.cli import common
from kiln.cli.output import console, print_json, print_table

app = typer.Typer(
    help="Batch transform jobs: a model run over every object under a prefix.", no_args_is_help=True
)


def transform(
    model: str = typer.Argument(..., help="The model's name (`kiln models list`)."),
    input_uri: str = typer.Option(
        ..., "--input", help="S3 prefix (or manifest, with --data-type) or local path."
    ),
    output_uri: str = typer.Option(
        None, "--output", help="Where <key>.out objects go (default: bucket/job)."
    ),
    content_type: str = typer.Option("text/csv", "--content-type"),
    accept: str = typer.Option(None, "--accept", help="The output's content type (default: --content-type)."),
    split_type: str = typer.Option("Line", "--split-type", help="Line, RecordIO or None."),
    strategy: str = typer.Option("MultiRecord", "--strategy", help="MultiRecord or SingleRecord."),
    assemble_with: str = typer.Option("Line", "--assemble-with", help="Line or None."),
    instance_count: int = typer.Option(1, "--instance-count"),
    instance_type: str = typer.Option("local", "--instance-type"),
    max_payload: int = typer.Option(None, "--max-payload", help="MaxPayloadInMB (default 6)."),
    max_concurrent: int = typer.Option(None, "--max-concurrent-transforms"),
    input_filter: str = typer.Option(None, "--input-filter", help="JSONPath, e.g. '$[1:]'."),
    output_filter: str = typer.Option(None, "--output-filter", help="JSONPath, e.g. '$[0,-1]'."),
    join_source: str = typer.Option(None, "--join-source", help="Input: put each input beside its output."),
    data_type: str = typer.Option("S3Prefix", "--data-type", help="S3Prefix or ManifestFile."),
    compression: str = typer.Option(None, "--compression", help="Gzip for gzipped input objects."),
    env: list[str] = typer.Option([], "--env", help="NAME=VALUE for the model server (repeatable)."),
    name: str = typer.Option(None, "--name", help="Job name (default: the model's name and a timestamp)."),
    wait: bool = typer.Option(True, "--wait/--no-wait", help="Wait for the job to end, printing its log."),
) -> None:
    """Run MODEL over every object under --input; outputs go to --output as <key>.out."""
    from kiln.errors import ValidationError
    from kiln.sdk.transformer import Transformer

    environment = {}
    for item in env:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ValidationError(f"--env {item!r} must be NAME=VALUE")
        environment[key] = value
    transformer = Transformer(
        model,
        instance_count,
        instance_type,
        strategy=strategy,
        assemble_with=assemble_with,
        output_path=output_uri,
        accept=accept,
        max_concurrent_transforms=max_concurrent,
        max_payload=max_payload,
        env=environment,
        sagemaker_session=common.session(),
    )
    transformer.transform(
        input_uri,
        data_type=data_type,
        content_type=content_type,
        compression_type=compression,
        split_type=split_type,
        job_name=name,
        input_filter=input_filter,
        output_filter=output_filter,
        join_source=join_source,
        wait=wait,
        logs=wait,
    )
    assert transformer.latest_transform_job is not None
    job = transformer.latest_transform_job.name
    state = "Completed" if wait else "InProgress"
    console.print(f"Transform job {job} is {state}; outputs under {transformer.output_path}")


@app.command("list")
def list_jobs(
    status: str = typer.Option(None, "--status", help="InProgress, Completed, Failed, Stopping, Stopped."),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    jobs = common.client().list_transform_jobs(status=status)
    if as_json:
        print_json(jobs)
        return
    print_table(
        None,
        ["Name", "Status", "Created", "Failure"],
        [
            (
                j["TransformJobName"],
                j["TransformJobStatus"],
                str(j["CreationTime"])[:19].replace("T", " "),
                (j.get("FailureReason") or "")[:80],
            )
            for j in jobs
        ],
    )


@app.command("describe")
def describe(name: str) -> None:
    print_json(common.client().describe_transform_job(name))


@app.command("stop")
def stop(name: str) -> None:
    job = common.client().stop_transform_job(name)
    console.print(f"Transform job {name} is {job['TransformJobStatus']}")


@app.command("logs")
def logs(
    name: str, tail: int = typer.Option(1000, "--tail"), as_json: bool = typer.Option(False, "--json")
) -> None:
    streams = common.client().transform_job_logs(name, tail)
    if as_json:
        typer.echo(json.dumps(streams))
        return
    for stream in streams:
        for line in stream["Lines"]:
            typer.echo(f"[{stream['Stream']}] {line}")
