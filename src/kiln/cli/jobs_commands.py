"""``kiln train`` and ``kiln jobs list|describe|logs|stop``."""

from __future__ import annotations

import typer

from kiln.cli import common
from kiln.cli.output import console, print_json, print_table
from kiln.codecs.hyperparameters import decode_hyperparameter

app = typer.Typer(help="Training jobs.", no_args_is_help=True)


def train(
    entry_point: str = typer.Argument(..., help="The script to run (relative to --source-dir if given)."),
    source_dir: str = typer.Option(None, "--source-dir", help="Folder packed with the entry point."),
    hp: list[str] = typer.Option([], "--hp", help="Hyperparameter NAME=VALUE (repeatable)."),
    input_: list[str] = typer.Option([], "--input", help="Channel NAME=URI (repeatable)."),
    metric: list[str] = typer.Option([], "--metric", help="Metric NAME=REGEX (repeatable)."),
    instance_type: str = typer.Option("local", "--instance-type"),
    instance_count: int = typer.Option(1, "--instance-count"),
    name: str = typer.Option(None, "--name", help="Job name (default: kiln-training-<time>)."),
    max_run: int = typer.Option(24 * 3600, "--max-run", help="Seconds before the job is stopped."),
    priority: int = typer.Option(None, "--priority", help="Among jobs waiting for capacity, higher first."),
    follow: bool = typer.Option(False, "--follow", "-f", help="Stream the logs until the job ends."),
    as_json: bool = typer.Option(False, "--json", help="Print the job's description as JSON."),
) -> None:
    """Run ENTRY_POINT as a training job."""
    from kiln.sdk.estimator import Estimator

    hyperparameters = {k: decode_hyperparameter(v) for k, v in common.pairs(hp, "--hp").items()}
    channels = common.pairs(input_, "--input")
    metrics = [{"Name": k, "Regex": v} for k, v in common.pairs(metric, "--metric").items()]
    estimator = Estimator(
        entry_point,
        source_dir=source_dir,
        hyperparameters=hyperparameters,
        instance_type=instance_type,
        instance_count=instance_count,
        metric_definitions=metrics,
        max_run=max_run,
        priority=priority,
        sagemaker_session=common.session(),
    )
    estimator.fit(channels or None, wait=follow, job_name=name)
    assert estimator.latest_training_job is not None
    description = estimator.latest_training_job.describe()
    if as_json:
        print_json(description)
    elif not follow:
        console.print(
            f"Started training job {description['TrainingJobName']}; follow it with "
            f"`kiln jobs logs -f {description['TrainingJobName']}`"
        )


@app.command("list")
def list_jobs(
    status: str = typer.Option(None, help="Only jobs in this status (InProgress, Completed, …)."),
    name: str = typer.Option(None, "--name", help="Only jobs whose name contains this."),
    limit: int = typer.Option(50, help="At most this many (newest first)."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """List training jobs, newest first."""
    jobs = common.client().list_training_jobs(status=status, name_contains=name, limit=limit)
    if as_json:
        print_json(jobs)
        return
    print_table(
        None,
        ["Name", "Status", "Secondary", "Instance", "Created", "Seconds"],
        [
            (
                j["TrainingJobName"],
                j["TrainingJobStatus"],
                j["SecondaryStatus"],
                f"{j['InstanceType']} × {j['InstanceCount']}",
                j["CreationTime"][:19].replace("T", " "),
                j["TrainingTimeInSeconds"],
            )
            for j in jobs
        ],
    )


@app.command()
def describe(name: str, as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """Describe a training job (SageMaker's DescribeTrainingJob)."""
    job = common.session().describe_training_job(name)
    if as_json:
        print_json(job)
        return
    rows = [
        ("Status", f"{job['TrainingJobStatus']} ({job['SecondaryStatus']})"),
        ("Instance", f"{job['ResourceConfig']['InstanceType']} × {job['ResourceConfig']['InstanceCount']}"),
        ("Created", job["CreationTime"]),
        ("Training seconds", job["TrainingTimeInSeconds"]),
        ("Billable seconds", job["BillableTimeInSeconds"]),
        ("Estimated cost", f"${job['EstimatedCost']:.4f}"),
        ("Model", job.get("ModelArtifacts", {}).get("S3ModelArtifacts", "")),
        ("Failure reason", job.get("FailureReason", "")),
        ("Priority", job.get("Priority", 0)),
    ]
    rows += [("Warning", warning) for warning in job.get("Warnings", [])]
    rows += [(f"Metric {m['MetricName']}", m["Value"]) for m in job["FinalMetricDataList"]]
    rows += [(f"Hyperparameter {k}", v) for k, v in sorted(job["HyperParameters"].items())]
    print_table(name, ["Field", "Value"], rows)
    print_table(
        "Status transitions",
        ["Status", "Start", "Message"],
        [
            (t["Status"], t["StartTime"][:19].replace("T", " "), t["StatusMessage"])
            for t in job["SecondaryStatusTransitions"]
        ],
    )


@app.command()
def logs(
    name: str, follow: bool = typer.Option(False, "--follow", "-f", help="Follow until the job ends.")
) -> None:
    """Print a job's log lines (with -f, as they arrive)."""
    from kiln.sdk.job_logs import print_job_logs

    print_job_logs(common.client(), name, follow=follow)


@app.command()
def stop(name: str) -> None:
    """Stop a job: SIGTERM to its processes, SIGKILL after the grace period."""
    job = common.session().stop_training_job(name)
    console.print(f"Stopping training job {name} (status {job['TrainingJobStatus']}).")


def tensorboard(
    jobs: list[str] = typer.Argument(..., help="Training jobs to show, one run each."),
    port: int = typer.Option(None, help="Port (default: the first free from 6006)."),
) -> None:
    """Serve TensorBoard over the jobs' summaries, refreshed while they run (Ctrl-C to stop)."""
    import time

    from kiln.sdk.tensorboard import TensorBoardSession

    board = TensorBoardSession(common.client(), jobs, port=port)
    console.print(f"TensorBoard at {board.start()} (Ctrl-C to stop)")
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        board.stop()
