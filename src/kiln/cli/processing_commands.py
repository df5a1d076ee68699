"""``kiln processing-jobs run|list|describe|logs|stop``."""

from __future__ import annotations

from typing import Any

import typer

from kiln.cli import common
from kiln.cli.output import console, print_json, print_table
from kiln.errors import ValidationError

app = typer.Typer(help="Processing jobs.", no_args_is_help=True)

DEFAULT_IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3"


def _split(value: str, option: str) -> tuple[str, str]:
    """``A=B`` where A may itself hold ``=`` only if B is a container path (it never does)."""
    left, sep, right = value.rpartition("=")
    if not sep or not left or not right:
        raise ValidationError(f"{option} {value!r} must look like SOURCE=DESTINATION")
    return left, right


@app.command("run")
def run(
    code: str = typer.Argument(..., help="The script to run (a local file or a URI)."),
    arguments: list[str] = typer.Argument(None, help="Arguments passed to the script verbatim (after --)."),
    input_: list[str] = typer.Option(
        [], "--input", help="URI-or-path=/opt/ml/processing/... copied there before the script runs."
    ),
    output: list[str] = typer.Option(
        [],
        "--output",
        help="/opt/ml/processing/...[=URI] uploaded when the script ends (default: <bucket>/<job>/output/…).",
    ),
    image: str = typer.Option(DEFAULT_IMAGE, "--image", help="A SageMaker framework image URI."),
    command: str = typer.Option("python3", "--command", help="The interpreter, e.g. python3."),
    env: list[str] = typer.Option([], "--env", help="Environment NAME=VALUE (repeatable)."),
    instance_type: str = typer.Option("local", "--instance-type"),
    instance_count: int = typer.Option(1, "--instance-count"),
    max_run: int = typer.Option(None, "--max-run", help="Seconds before the job is stopped."),
    name: str = typer.Option(None, "--name", help="Job name (default: the image's repository and the time)."),
    follow: bool = typer.Option(False, "--follow", "-f", help="Stream the logs until the job ends."),
    as_json: bool = typer.Option(False, "--json", help="Print the job's description as JSON."),
) -> None:
    """Run CODE (one script file) as a processing job, as SageMaker's ScriptProcessor does."""
    from kiln.sdk.processing import ProcessingInput, ProcessingOutput, ScriptProcessor
    from kiln.sdk.processing_job import ProcessingJob

    inputs = [ProcessingInput(source=s, destination=d) for s, d in (_split(i, "--input") for i in input_)]
    outputs = [
        ProcessingOutput(source=o, destination=None)
        if "=" not in o
        else ProcessingOutput(source=_split(o, "--output")[0], destination=_split(o, "--output")[1])
        for o in output
    ]
    environment = dict(_split(e, "--env") for e in env)
    session = common.session()
    processor = ScriptProcessor(
        image_uri=image,
        command=command.split(),
        instance_type=instance_type,
        instance_count=instance_count,
        max_runtime_in_seconds=max_run,
        env=environment or None,
        sagemaker_session=session,
    )
    processor.run(
        code=code,
        inputs=inputs,
        outputs=outputs,
        arguments=arguments or None,
        wait=follow,
        logs=follow,
        job_name=name,
    )
    job: ProcessingJob | None = processor.latest_job
    assert job is not None
    description = job.describe()
    if as_json:
        print_json(description)
    elif not follow:
        console.print(
            f"Started processing job {job.job_name}; "
            f"follow it with `kiln processing-jobs logs -f {job.job_name}`"
        )


@app.command("list")
def list_jobs(
    status: str = typer.Option(None, help="Only jobs in this status (InProgress, Completed, …)."),
    name: str = typer.Option(None, "--name", help="Only jobs whose name contains this."),
    limit: int = typer.Option(50, help="At most this many (newest first)."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """List processing jobs, newest first."""
    jobs = common.client().list_processing_jobs(status=status, name_contains=name, limit=limit)
    if as_json:
        print_json(jobs)
        return
    print_table(
        None,
        ["Name", "Status", "Instance", "Created", "Ended"],
        [
            (
                j["ProcessingJobName"],
                j["ProcessingJobStatus"],
                f"{j['InstanceType']} × {j['InstanceCount']}",
                j["CreationTime"][:19].replace("T", " "),
                (j.get("ProcessingEndTime") or "")[:19].replace("T", " "),
            )
            for j in jobs
        ],
    )


@app.command()
def describe(name: str, as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """Describe a processing job (SageMaker's DescribeProcessingJob)."""
    job = common.client().describe_processing_job(name)
    if as_json:
        print_json(job)
        return
    cluster = job["ProcessingResources"]["ClusterConfig"]
    app_spec = job["AppSpecification"]
    rows: list[tuple[str, Any]] = [
        ("Status", job["ProcessingJobStatus"]),
        ("Image", app_spec["ImageUri"]),
        (
            "Command",
            " ".join([*app_spec.get("ContainerEntrypoint", []), *app_spec.get("ContainerArguments", [])]),
        ),
        ("Instance", f"{cluster['InstanceType']} × {cluster['InstanceCount']}"),
        ("Created", job["CreationTime"]),
        ("Started", job.get("ProcessingStartTime", "")),
        ("Ended", job.get("ProcessingEndTime", "")),
        ("Billable seconds", job.get("BillableTimeInSeconds", 0)),
        ("Estimated cost", f"${job.get('EstimatedCost', 0.0):.4f}"),
        ("Exit message", job.get("ExitMessage", "")),
        ("Failure reason", job.get("FailureReason", "")),
    ]
    rows += [
        (f"Input {i['InputName']}", f"{i['S3Input']['S3Uri']} → {i['S3Input']['LocalPath']}")
        for i in job.get("ProcessingInputs", [])
    ]
    rows += [
        (f"Output {o['OutputName']}", f"{o['S3Output']['LocalPath']} → {o['S3Output']['S3Uri']}")
        for o in (job.get("ProcessingOutputConfig") or {}).get("Outputs", [])
    ]
    print_table(name, ["Field", "Value"], rows)


@app.command()
def logs(
    name: str, follow: bool = typer.Option(False, "--follow", "-f", help="Follow until the job ends.")
) -> None:
    """Print a processing job's log lines (with -f, as they arrive)."""
    from kiln.sdk.processing_job import ProcessingJob

    session = common.session()
    ProcessingJob.from_processing_name(session, name).logs(wait=follow)
    if follow:
        console.print(
            f"Processing job {name}: {session.client.describe_processing_job(name)['ProcessingJobStatus']}"
        )


@app.command()
def stop(name: str) -> None:
    """Stop a processing job: SIGTERM to its processes, SIGKILL after the grace period."""
    job = common.client().stop_processing_job(name)
    console.print(f"Stopping processing job {name} (status {job['ProcessingJobStatus']}).")
