"""``kiln limits``, ``kiln usage`` and ``kiln instance-types``: capacity, account limits and cost."""

from __future__ import annotations

from typing import Any

import typer

from kiln.cli import common
from kiln.cli.output import console, print_json, print_table


def _limit(entry: dict[str, Any] | None) -> str:
    if entry is None:
        return ""
    limit = entry["Limit"]
    return f"{entry['CurrentUtilization']} / {'∞' if limit is None else limit}"


def limits(
    all_types: bool = typer.Option(False, "--all", help="Every type, not only those in use or limited to 0."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Account limits per instance type and use (training, endpoint, tuning), with current use."""
    answer = common.client().call("GET", "/limits")
    if as_json:
        print_json(answer)
        return
    by_type: dict[str, dict[str, dict[str, Any]]] = {}
    for entry in answer["Limits"]:
        by_type.setdefault(entry["InstanceType"], {})[entry["Use"]] = entry
    uses = ("training", "endpoint", "tuning")
    rows = [
        (name, *(_limit(entries.get(use)) for use in uses))
        for name, entries in by_type.items()
        if all_types or any(e["CurrentUtilization"] or e["Limit"] == 0 for e in entries.values())
    ]
    capacity = answer["Capacity"]
    console.print(
        f"This machine: {capacity['Cpus']} CPUs ({capacity['FreeCpuSlots']} of {capacity['CpuSlots']} "
        f"slots free, oversubscription {capacity['OversubscriptionFactor']:g}), {capacity['Gpus']} GPUs "
        f"({capacity['FreeGpus']} free), {capacity['MemoryGiB']:g} GiB; "
        f"{capacity['PendingReservations']} waiting for capacity.",
        markup=False,
        soft_wrap=True,
    )
    if not rows:
        console.print("No instance type is in use; `kiln limits --all` shows every limit.", markup=False)
        return
    print_table("In use / limit (instances)", ["Instance type", *uses], rows)


def usage(
    since: str = typer.Option(None, "--since", help="From this date (YYYY-MM-DD) or ISO time; default: all."),
    by: str = typer.Option("type", "--by", help="Group by: type, job or endpoint."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Instance-seconds and estimated cost at each type's reference price."""
    params = {"by": by, **({"since": since} if since else {})}
    answer = common.client().call("GET", "/usage", params=params)
    if as_json:
        print_json(answer)
        return
    key = {"type": "Instance type", "job": "Training job", "endpoint": "Endpoint"}.get(by, by)
    rows = [
        (
            u["Key"],
            *([] if by == "type" else [u["InstanceType"]]),
            u["InstanceSeconds"],
            f"${u['EstimatedCost']:.4f}",
        )
        for u in answer["Usage"]
    ]
    columns = [key, *([] if by == "type" else ["Instance type"]), "Instance-seconds", "Estimated cost"]
    print_table(f"Usage since {answer['Since'][:10]}", columns, rows)
    console.print(
        f"Total: {answer['TotalInstanceSeconds']} instance-seconds, estimated cost "
        f"${answer['TotalEstimatedCost']:.4f} at reference prices.",
        markup=False,
    )


def instance_types(as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """Every instance type this server knows, and what one instance of it gets on this machine."""
    answer = common.client().call("GET", "/instance-types")
    if as_json:
        print_json(answer)
        return
    rows = []
    for t in answer["InstanceTypes"]:
        if "Refused" in t:
            here = "refused (strict)"
        else:
            here = f"{t['GrantedCpus']} CPU{'s' * (t['GrantedCpus'] != 1)}"
            if t["GrantedGpus"]:
                here += f", {t['GrantedGpus']} GPU{'s' * (t['GrantedGpus'] != 1)}"
            if t["Warnings"]:
                here += " (scaled down)"
        rows.append(
            (
                t["InstanceType"],
                t["VCpus"],
                f"{t['MemoryGiB']:g}",
                t["Gpus"],
                f"${t['PricePerHour']:.3f}",
                t["Source"],
                here,
            )
        )
    print_table("Instance types", ["Name", "vCPUs", "GiB", "GPUs", "$/hour", "From", "Here"], rows)
