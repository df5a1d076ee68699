"""Public shapes of the capacity API: limits with current use, usage and cost, instance types."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from kiln.scheduler import CapacitySnapshot, UsageLine
from kiln.services.capacity import LimitUsage, TypeFit

__all__ = ["capacity_public", "instance_type_public", "limit_public", "usage_public"]

GIB = 1024**3


def limit_public(limit: LimitUsage) -> dict[str, Any]:
    return {
        "Name": limit.name,
        "InstanceType": limit.instance_type,
        "Use": limit.use.value,
        "Limit": limit.limit,
        "CurrentUtilization": limit.current,
    }


def capacity_public(snapshot: CapacitySnapshot) -> dict[str, Any]:
    return {
        "Cpus": len(snapshot.machine.cpus),
        "CpuSlots": snapshot.total_slots,
        "FreeCpuSlots": snapshot.free_slots,
        "Gpus": len(snapshot.machine.gpus),
        "FreeGpus": snapshot.free_gpus,
        "MemoryGiB": round(snapshot.machine.memory_gib, 2),
        "OversubscriptionFactor": snapshot.oversubscription,
        "StrictInstanceTypes": snapshot.strict,
        "ActiveReservations": snapshot.active,
        "PendingReservations": snapshot.pending,
    }


def usage_public(since: datetime, by: str, lines: list[UsageLine]) -> dict[str, Any]:
    return {
        "Since": since.isoformat(),
        "By": by,
        "Usage": [
            {
                "Key": line.key,
                "Kind": line.kind,
                "InstanceType": line.instance_type,
                "InstanceSeconds": line.instance_seconds,
                "EstimatedCost": line.estimated_cost,
            }
            for line in lines
        ],
        "TotalInstanceSeconds": sum(line.instance_seconds for line in lines),
        "TotalEstimatedCost": round(sum(line.estimated_cost for line in lines), 6),
    }


def instance_type_public(fit: TypeFit) -> dict[str, Any]:
    itype = fit.instance_type
    shown: dict[str, Any] = {
        "InstanceType": itype.name,
        "Source": itype.source,
        "VCpus": itype.vcpus,
        "MemoryGiB": round(itype.memory_gib, 2),
        "Gpus": itype.gpus,
        "PricePerHour": itype.price_per_hour,
    }
    if fit.sizing is not None:
        shown["GrantedCpus"] = fit.sizing.cpus_per_instance
        shown["GrantedGpus"] = fit.sizing.gpus_per_instance
        shown["GrantedMemoryGiB"] = (
            None if fit.sizing.memory_bytes is None else round(fit.sizing.memory_bytes / GIB, 2)
        )
        shown["Warnings"] = list(fit.sizing.warnings)
    else:
        shown["Refused"] = fit.refusal
    return shown
