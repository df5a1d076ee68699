"""``kiln cluster``: the nodes work runs on, what each holds, and what runs where."""

from __future__ import annotations

from typing import Any

import typer

from kiln.cli import common
from kiln.cli.output import console, print_json, print_table


def _amount(value: float) -> str:
    return f"{value:g}"


def _held(held: float | None, total: float | None) -> str:
    return f"{_amount(held or 0)} / {'?' if total is None else _amount(total)}"


def _resources(resources: dict[str, float]) -> str:
    return ", ".join(f"{name}={_amount(amount)}" for name, amount in sorted(resources.items()))


def _unit_row(unit: dict[str, Any], node: str | None) -> tuple[Any, ...]:
    return (
        node or "unknown",
        unit["Kind"],
        unit["Name"],
        unit["Unit"],
        unit["State"],
        _amount(unit["Cpus"]),
        "" if unit["MemoryGiB"] is None else _amount(unit["MemoryGiB"]),
        unit["Gpus"],
    )


def cluster(as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """The nodes work runs on (this machine for the local executor, the Ray cluster's nodes for ray):
    what each has and holds for Kiln, which job host or endpoint instance runs where, what waits."""
    answer = common.client().call("GET", "/cluster")
    if as_json:
        print_json(answer)
        return
    nodes = answer["Nodes"]
    alive = sum(1 for n in nodes if n["Alive"])
    console.print(
        f"Executor {answer['Executor']}: {alive} of {len(nodes)} node{'s' * (len(nodes) != 1)} alive; "
        f"the server runs on {answer['ServerNode']}.",
        markup=False,
        soft_wrap=True,
    )
    print_table(
        "Nodes (held / has)",
        ["Node", "Address", "State", "CPUs", "Memory GiB", "GPUs", "Resources"],
        [
            (
                n["Name"],
                n["Address"],
                "alive" if n["Alive"] else "dead",
                _held(n["HeldCpus"], n["Cpus"]),
                _held(n["HeldMemoryGiB"], n["MemoryGiB"]),
                _held(n["HeldGpus"], n["Gpus"]),
                _resources(n["Resources"]),
            )
            for n in nodes
        ],
    )
    rows = [_unit_row(u, n["Name"]) for n in nodes for u in n["Units"]]
    rows += [_unit_row(u, f"{u['Node'] or 'unknown'} (gone)") for u in answer["Elsewhere"]]
    if rows:
        print_table(
            "What runs where", ["Node", "Kind", "Name", "Unit", "State", "CPUs", "Memory GiB", "GPUs"], rows
        )
    else:
        console.print("Nothing runs now.", markup=False)
    waiting = answer["Waiting"]
    if waiting:
        console.print(
            f"{len(waiting)} waiting for room: "
            + "; ".join(f"{w['Owner']} ({w['InstanceCount']} × {w['InstanceType']})" for w in waiting),
            markup=False,
            soft_wrap=True,
        )
