"""``kiln tune`` and ``kiln tuning list|describe|stop``."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import typer

from kiln.cli import common
from kiln.cli.output import console, print_json, print_table
from kiln.cli.tune_spec import load_tune_file, parse_range_flag, parse_value
from kiln.errors import ValidationError

app = typer.Typer(help="Hyperparameter tuning jobs.", no_args_is_help=True)


def _client() -> Any:
    from kiln.sdk.tuning_client import TuningClient

    return TuningClient(common.client())


def _flag_overrides(**flags: Any) -> dict[str, Any]:
    return {k: v for k, v in flags.items() if v is not None and v != [] and v != {}}


def tune(
    entry_point: str = typer.Argument(None, help="The training script (or entry_point in --config)."),
    config: Path = typer.Option(None, "--config", "-c", help="YAML file with the tuner's arguments."),
    source_dir: str = typer.Option(None, "--source-dir", help="Folder packed with the entry point."),
    hp: list[str] = typer.Option([], "--hp", help="Static hyperparameter NAME=VALUE (repeatable)."),
    input_: list[str] = typer.Option([], "--input", help="Channel NAME=URI (repeatable)."),
    metric: list[str] = typer.Option([], "--metric", help="Metric NAME=REGEX (repeatable)."),
    objective: str = typer.Option(None, "--objective", help="The metric to optimize (one of --metric)."),
    objective_type: str = typer.Option(None, "--objective-type", help="Maximize (default) or Minimize."),
    continuous: list[str] = typer.Option([], "--continuous", help="NAME=MIN:MAX[:SCALING] (repeatable)."),
    integer: list[str] = typer.Option([], "--integer", help="NAME=MIN:MAX[:SCALING] (repeatable)."),
    categorical: list[str] = typer.Option([], "--categorical", help="NAME=V1,V2,… (repeatable)."),
    strategy: str = typer.Option(None, "--strategy", help="Bayesian (default), Random, Hyperband or Grid."),
    max_jobs: int = typer.Option(None, "--max-jobs", help="Trials in all (Grid: the grid's size)."),
    max_parallel: int = typer.Option(None, "--max-parallel", help="Trials at once (default 1)."),
    early_stopping: str = typer.Option(None, "--early-stopping", help="Off (default) or Auto."),
    max_runtime: int = typer.Option(None, "--max-runtime", help="Seconds before the tuning job stops."),
    random_seed: int = typer.Option(None, "--random-seed"),
    instance_type: str = typer.Option(None, "--instance-type"),
    name: str = typer.Option(None, "--name", help="Tuning job name (≤32 characters)."),
    wait: bool = typer.Option(False, "--wait", "-w", help="Print progress until the tuning job ends."),
    as_json: bool = typer.Option(False, "--json", help="Print the tuning job's description as JSON."),
) -> None:
    """Tune a training script's hyperparameters (from --config YAML and/or flags)."""
    from kiln.sdk.estimator import Estimator
    from kiln.sdk.tuner import HyperparameterTuner

    spec: dict[str, Any] = load_tune_file(config) if config is not None else {}
    ranges = dict(spec.get("hyperparameter_ranges") or {})
    for kind, flags in (("continuous", continuous), ("integer", integer), ("categorical", categorical)):
        ranges.update(parse_range_flag(kind, flag) for flag in flags)
    hyperparameters = {**(spec.get("hyperparameters") or {})}
    hyperparameters.update({k: parse_value(v) for k, v in common.pairs(hp, "--hp").items()})
    metrics = list(spec.get("metric_definitions") or [])
    metrics += [{"Name": k, "Regex": v} for k, v in common.pairs(metric, "--metric").items()]
    spec.update(
        _flag_overrides(
            entry_point=entry_point,
            source_dir=source_dir,
            objective_metric_name=objective,
            objective_type=objective_type,
            strategy=strategy,
            max_jobs=max_jobs,
            max_parallel_jobs=max_parallel,
            early_stopping_type=early_stopping,
            max_runtime_in_seconds=max_runtime,
            random_seed=random_seed,
            instance_type=instance_type,
            job_name=name,
        )
    )
    inputs = {**(spec.get("inputs") or {}), **common.pairs(input_, "--input")}
    if not spec.get("entry_point"):
        raise ValidationError("no training script: give ENTRY_POINT or entry_point in --config")
    if not spec.get("objective_metric_name"):
        raise ValidationError("no objective: give --objective NAME (a metric from --metric)")
    estimator = Estimator(
        spec["entry_point"],
        source_dir=spec.get("source_dir"),
        hyperparameters=hyperparameters,
        instance_type=spec.get("instance_type", "local"),
        instance_count=int(spec.get("instance_count", 1)),
        max_run=int(spec.get("max_run", 24 * 3600)),
        metric_definitions=metrics,
        sagemaker_session=common.session(),
    )
    tuner = HyperparameterTuner(
        estimator,
        objective_metric_name=spec["objective_metric_name"],
        hyperparameter_ranges=ranges,
        metric_definitions=metrics,
        strategy=spec.get("strategy", "Bayesian"),
        objective_type=spec.get("objective_type", "Maximize"),
        max_jobs=spec.get("max_jobs"),
        max_parallel_jobs=int(spec.get("max_parallel_jobs", 1)),
        max_runtime_in_seconds=spec.get("max_runtime_in_seconds"),
        early_stopping_type=spec.get("early_stopping_type", "Off"),
        random_seed=spec.get("random_seed"),
        base_tuning_job_name=spec.get("base_tuning_job_name"),
    )
    tuner.fit(inputs or None, job_name=spec.get("job_name"), wait=False)
    job_name = tuner.latest_tuning_job
    if wait:
        tuner.wait(out=io.StringIO() if as_json else None)  # JSON output stays parseable
    if as_json:
        print_json(tuner.describe())
    elif not wait:
        console.print(f"Started tuning job {job_name}; follow it with `kiln tuning describe {job_name}`")
    else:
        best = tuner.describe().get("BestTrainingJob")
        if best:
            console.print(f"Best training job: {best['TrainingJobName']} {best['TunedHyperParameters']}")


def _time(value: str | None) -> str:
    return "" if not value else value[:19].replace("T", " ")


def _objective(summary: dict[str, Any]) -> str:
    metric = summary.get("FinalHyperParameterTuningJobObjectiveMetric")
    return "" if not metric else f"{metric['Value']:.6g}"


@app.command("list")
def list_tuning_jobs(
    status: str = typer.Option(None, help="Only jobs in this status (InProgress, Completed, …)."),
    name: str = typer.Option(None, "--name", help="Only jobs whose name contains this."),
    limit: int = typer.Option(50, help="At most this many (newest first)."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """List tuning jobs, newest first."""
    jobs = _client().list_tuning_jobs(status=status, name_contains=name, limit=limit)
    if as_json:
        print_json(jobs)
        return
    rows = []
    for job in jobs:
        counters = job["TrainingJobStatusCounters"]
        failed = counters["RetryableError"] + counters["NonRetryableError"]
        rows.append(
            (
                job["HyperParameterTuningJobName"],
                job["HyperParameterTuningJobStatus"],
                job["Strategy"],
                _time(job["CreationTime"]),
                f"{counters['Completed']} / {counters['InProgress']} / {counters['Stopped']} / {failed}",
            )
        )
    print_table(None, ["Name", "Status", "Strategy", "Created", "Done / running / stopped / failed"], rows)


@app.command()
def describe(name: str, as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """Describe a tuning job and list its trials, best objective first."""
    client = _client()
    job = client.describe_tuning_job(name)
    trials = client.list_training_jobs_for_tuning_job(name)
    if as_json:
        print_json({**job, "TrainingJobSummaries": trials})
        return
    config = job["HyperParameterTuningJobConfig"]
    objective = config["HyperParameterTuningJobObjective"]
    limits = config["ResourceLimits"]
    best = job.get("BestTrainingJob") or {}
    rows = [
        ("Status", job["HyperParameterTuningJobStatus"]),
        ("Strategy", config["Strategy"]),
        ("Objective", f"{objective['Type']} {objective['MetricName']}"),
        ("Early stopping", config.get("TrainingJobEarlyStoppingType", "Off")),
        (
            "Trials",
            f"{limits.get('MaxNumberOfTrainingJobs')} at most, {limits['MaxParallelTrainingJobs']} at once",
        ),
        ("Created", _time(job["CreationTime"])),
        ("Ended", _time(job.get("HyperParameterTuningEndTime"))),
        ("Best training job", best.get("TrainingJobName", "")),
        ("Best objective", _objective(best)),
        ("Failure reason", job.get("FailureReason", "")),
    ]
    print_table(name, ["Field", "Value"], rows)
    print_table(
        "Trials (best first)",
        ["Training job", "Status", "Objective", "Tuned hyperparameters"],
        [
            (
                t["TrainingJobName"],
                t["TrainingJobStatus"] + (" (early)" if t.get("EarlyStopped") else ""),
                _objective(t),
                ", ".join(f"{k}={v}" for k, v in sorted(t["TunedHyperParameters"].items())),
            )
            for t in trials
        ],
    )


@app.command()
def stop(name: str) -> None:
    """Stop a tuning job: its running trials are stopped and no new one starts."""
    job = _client().stop_tuning_job(name)
    console.print(f"Stopping tuning job {name} (status {job['HyperParameterTuningJobStatus']}).")
