"""Public shape of the cluster view: nodes with what each holds, what runs where, what waits."""

from __future__ import annotations

from typing import Any

from kiln.services.cluster import ClusterNode, ClusterView, NodeUnit

__all__ = ["cluster_public"]

GIB = 1024**3


def _gib(value: int | None) -> float | None:
    return None if value is None else round(value / GIB, 2)


def _unit_public(unit: NodeUnit) -> dict[str, Any]:
    return {
        "Kind": unit.kind,
        "Name": unit.name,
        "Unit": unit.unit,
        "State": unit.state,
        "Node": unit.node,
        "Cpus": unit.cpus,
        "MemoryGiB": _gib(unit.memory_bytes),
        "Gpus": unit.gpus,
    }


def _node_public(node: ClusterNode) -> dict[str, Any]:
    return {
        "Name": node.name,
        "Address": node.address,
        "Alive": node.alive,
        "Cpus": node.cpus,
        "MemoryGiB": _gib(node.memory_bytes),
        "Gpus": node.gpus,
        "Resources": node.resources,
        "HeldCpus": node.held_cpus,
        "HeldMemoryGiB": _gib(node.held_memory_bytes),
        "HeldGpus": node.held_gpus,
        "Units": [_unit_public(u) for u in node.units],
    }


def cluster_public(view: ClusterView) -> dict[str, Any]:
    return {
        "Executor": view.executor,
        "ServerNode": view.server_node,
        "Nodes": [_node_public(n) for n in view.nodes],
        "Elsewhere": [_unit_public(u) for u in view.elsewhere],
        "Waiting": [
            {
                "Owner": w.owner,
                "Use": w.use,
                "InstanceType": w.instance_type,
                "InstanceCount": w.instance_count,
                "Message": w.message,
            }
            for w in view.waiting
        ],
    }
