"""``kiln deploy``, ``kiln models …`` and ``kiln endpoints …``."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import typer

from kiln.cli import common
from kiln.cli.output import console, print_json, print_table
from kiln.errors import ValidationError

models_app = typer.Typer(help="Models (model data plus inference code).", no_args_is_help=True)
endpoints_app = typer.Typer(help="Endpoints: real-time predictions.", no_args_is_help=True)


def deploy(
    source: str = typer.Argument(..., help="A training job name, or the URI of a model.tar.gz."),
    instance_count: int = typer.Option(1, "--instance-count"),
    instance_type: str = typer.Option("local", "--instance-type"),
    name: str = typer.Option(None, "--name", help="Endpoint name (default: the job's or model's name)."),
    entry_point: str = typer.Option(
        None, "--entry-point", help="Inference code (inference.py) to serve with."
    ),
    source_dir: str = typer.Option(None, "--source-dir"),
    wait: bool = typer.Option(True, "--wait/--no-wait", help="Wait until the endpoint is InService."),
) -> None:
    """Deploy a trained job's model (or a model.tar.gz) to a new endpoint."""
    from kiln.sdk.model import Model

    session = common.session()
    model_name = None
    if "://" in source:
        model_data = source
    else:
        job = session.describe_training_job(source)
        model_data = job.get("ModelArtifacts", {}).get("S3ModelArtifacts")
        if not model_data:
            raise ValidationError(
                f"training job {source} has no model ({job['TrainingJobStatus']}); deploy a completed job"
            )
        model_name = source
    model = Model(
        model_data, entry_point=entry_point, source_dir=source_dir, name=model_name, sagemaker_session=session
    )
    predictor = model.deploy(
        initial_instance_count=instance_count, instance_type=instance_type, endpoint_name=name, wait=wait
    )
    state = "InService" if wait else "Creating"
    console.print(
        f"Endpoint {predictor.endpoint_name} is {state}; invoke it with "
        f"`kiln endpoints invoke {predictor.endpoint_name} --content-type application/json --body @file`"
    )


@models_app.command("list")
def list_models(as_json: bool = typer.Option(False, "--json")) -> None:
    models = common.client().list_models()
    if as_json:
        print_json(models)
        return
    print_table(
        None,
        ["Name", "Model data", "Created"],
        [
            (
                m["ModelName"],
                m["PrimaryContainer"].get("ModelDataUrl", ""),
                m["CreationTime"][:19].replace("T", " "),
            )
            for m in models
        ],
    )


@models_app.command("describe")
def describe_model(name: str, as_json: bool = typer.Option(False, "--json")) -> None:
    model = common.client().describe_model(name)
    if as_json:
        print_json(model)
        return
    container = model["PrimaryContainer"]
    rows = [("Model data", container.get("ModelDataUrl", "")), ("Created", model["CreationTime"])]
    rows += [(f"Env {k}", v) for k, v in sorted(container.get("Environment", {}).items())]
    print_table(name, ["Field", "Value"], rows)


@models_app.command("delete")
def delete_model(name: str) -> None:
    common.client().delete_model(name)
    console.print(f"Deleted model {name}")


@endpoints_app.command("list")
def list_endpoints(
    status: str = typer.Option(None, help="Only endpoints in this status."),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    endpoints = common.client().list_endpoints(status)
    if as_json:
        print_json(endpoints)
        return
    print_table(
        None,
        ["Name", "Status", "Variants", "Created"],
        [
            (
                e["EndpointName"],
                e["EndpointStatus"],
                ", ".join(
                    f"{v['VariantName']} w={v['CurrentWeight']:g} ×{v['CurrentInstanceCount']}"
                    for v in e["ProductionVariants"]
                ),
                e["CreationTime"][:19].replace("T", " "),
            )
            for e in endpoints
        ],
    )


@endpoints_app.command("describe")
def describe_endpoint(name: str, as_json: bool = typer.Option(False, "--json")) -> None:
    endpoint = common.client().describe_endpoint(name)
    if as_json:
        print_json(endpoint)
        return
    rows = [("Status", endpoint["EndpointStatus"]), ("Config", endpoint["EndpointConfigName"])]
    if endpoint.get("FailureReason"):
        rows.append(("Failure reason", endpoint["FailureReason"]))
    print_table(name, ["Field", "Value"], rows)
    print_table(
        "Variants",
        ["Variant", "Weight", "Instances (current / desired)"],
        [
            (
                v["VariantName"],
                f"{v['CurrentWeight']:g}",
                f"{v['CurrentInstanceCount']} / {v['DesiredInstanceCount']}",
            )
            for v in endpoint["ProductionVariants"]
        ],
    )
    print_table(
        "Instances",
        ["Instance", "Variant", "State", "Port"],
        [(i["InstanceId"], i["VariantName"], i["State"], i["Port"]) for i in endpoint["Instances"]],
    )


def _read_body(body: str) -> bytes:
    if body == "-":
        return sys.stdin.buffer.read()
    if body.startswith("@"):
        path = Path(body[1:])
        if not path.is_file():
            raise ValidationError(f"--body {body!r}: no such file {str(path)!r}")
        return path.read_bytes()
    return body.encode()


@endpoints_app.command("invoke")
def invoke(
    name: str,
    content_type: str = typer.Option("application/json", "--content-type"),
    accept: str = typer.Option("application/json", "--accept"),
    body: str = typer.Option(..., "--body", help="The request body, @FILE, or - for standard input."),
    target_variant: str = typer.Option(None, "--target-variant"),
) -> None:
    """Send one request to an endpoint and print its answer."""
    headers = {"Content-Type": content_type, "Accept": accept}
    if target_variant:
        headers["X-Amzn-SageMaker-Target-Variant"] = target_variant
    response = common.client().invoke_endpoint(name, _read_body(body), headers)
    variant = response.headers.get("x-amzn-invoked-production-variant", "")
    if response.headers.get("content-type", "").startswith(("application/json", "text/")):
        sys.stdout.write(response.text + "\n")
    else:
        sys.stdout.buffer.write(response.content)
    if variant:
        print(f"(served by variant {variant})", file=sys.stderr)


@endpoints_app.command("logs")
def logs(name: str, tail: int = typer.Option(200, "--tail", help="Lines per instance.")) -> None:
    """The instances' logs (model loading, errors and tracebacks of failed requests)."""
    for instance in common.client().endpoint_logs(name, tail):
        print(f"==> {instance['InstanceId']} ({instance['Variant']}) <==")
        for line in instance["Lines"]:
            print(line)


_DURATION_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def _since(value: str) -> str:
    """``15m``, ``2h``, ``1d`` (ago) or an ISO 8601 time, as the ISO time the API takes."""
    from datetime import datetime, timedelta, timezone

    unit = _DURATION_UNITS.get(value[-1:].lower())
    if unit is not None and value[:-1].isdigit():
        return (datetime.now(timezone.utc) - timedelta(seconds=int(value[:-1]) * unit)).isoformat()
    try:
        return datetime.fromisoformat(value).isoformat()
    except ValueError:
        raise ValidationError(
            f"--since {value!r} is neither a duration (30s, 15m, 2h, 1d) nor an ISO 8601 time"
        ) from None


def _ms(latency: dict[str, float] | None, statistic: str) -> str:
    return "—" if latency is None else f"{latency[statistic] / 1000:.2f}"


@endpoints_app.command("metrics")
def metrics(
    name: str,
    period: int = typer.Option(60, "--period", help="Seconds per row: 10, or a multiple of 60."),
    since: str = typer.Option(None, "--since", help="15m, 2h, 1d or an ISO time (default: 60 periods)."),
    variant: str = typer.Option(None, "--variant", help="One variant only."),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Invocations, errors and latencies per variant (SageMaker's CloudWatch endpoint metrics)."""
    answer = common.client().endpoint_metrics(
        name, period=period, start=_since(since) if since else None, variant=variant
    )
    if as_json:
        print_json(answer)
        return
    for entry in answer["Variants"]:
        rows = [
            (
                point["Timestamp"][11:19],
                point["Invocations"],
                point["Invocation4XXErrors"],
                point["Invocation5XXErrors"],
                f"{point['InvocationsPerInstance']:g}",
                *(_ms(point["ModelLatency"], s) for s in ("p50", "p90", "p99")),
                *(_ms(point["OverheadLatency"], s) for s in ("p50", "p99")),
            )
            for point in entry["Datapoints"]
        ]
        if not rows:
            console.print(f"{entry['VariantName']}: no invocations since {answer['StartTime'][:19]} UTC")
            continue
        print_table(
            f"{name} / {entry['VariantName']}, {answer['Period']} s periods (UTC; latencies in ms)",
            [
                "Time",
                "Invocations",
                "4XX",
                "5XX",
                "Per instance",
                "Model p50",
                "p90",
                "p99",
                "Overhead p50",
                "p99",
            ],
            rows,
        )


@endpoints_app.command("update")
def update(
    name: str,
    config: str = typer.Option(None, "--config", help="Switch to this endpoint config (blue/green)."),
    weight: list[str] = typer.Option([], "--weight", help="VARIANT=WEIGHT (repeatable)."),
    instance_count: list[str] = typer.Option([], "--instance-count", help="VARIANT=COUNT (repeatable)."),
) -> None:
    """Switch an endpoint to another config, or change variant weights and instance counts in place."""
    client = common.client()
    if config:
        client.update_endpoint(name, config)
    desired: dict[str, dict[str, Any]] = {}
    for value, field, cast in [(w, "DesiredWeight", float) for w in weight] + [
        (c, "DesiredInstanceCount", int) for c in instance_count
    ]:
        variant, sep, number = value.partition("=")
        if not sep:
            raise ValidationError(f"{value!r} must look like VARIANT=NUMBER")
        try:
            desired.setdefault(variant, {"VariantName": variant})[field] = cast(number)
        except ValueError:
            raise ValidationError(f"{value!r}: {number!r} is not a number") from None
    if desired:
        client.update_endpoint_weights_and_capacities(name, list(desired.values()))
    if not config and not desired:
        raise ValidationError("say what to change: --config, --weight or --instance-count")
    console.print(f"Updating endpoint {name}")


@endpoints_app.command("delete")
def delete(name: str, keep_config: bool = typer.Option(False, "--keep-config")) -> None:
    """Delete an endpoint: its instances stop and their ports are freed."""
    client = common.client()
    config = client.describe_endpoint(name)["EndpointConfigName"]
    client.delete_endpoint(name)
    if not keep_config:
        client.delete_endpoint_config(config)
    console.print(f"Deleted endpoint {name}")
