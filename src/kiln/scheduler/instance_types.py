"""The instance-type catalog: what each SageMaker type grants, and its hourly reference price.

Prices are approximate us-east-1 training prices (contract §5); they make cost estimates comparable,
not bills. ``local`` is SageMaker local mode's name for "the whole machine".
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from kiln.errors import ValidationError

__all__ = ["CATALOG", "InstanceType", "get_instance_type"]


@dataclass(frozen=True)
class InstanceType:
    name: str
    vcpus: int
    memory_gib: float
    gpus: int
    price_per_hour: float  # USD, reference only


CATALOG: dict[str, InstanceType] = {
    t.name: t
    for t in (
        InstanceType("ml.m5.large", 2, 8, 0, 0.115),
        InstanceType("ml.m5.xlarge", 4, 16, 0, 0.23),
        InstanceType("ml.m5.2xlarge", 8, 32, 0, 0.461),
        InstanceType("ml.m4.xlarge", 4, 16, 0, 0.28),
        InstanceType("ml.c5.xlarge", 4, 8, 0, 0.204),
        InstanceType("ml.c5.2xlarge", 8, 16, 0, 0.408),
        InstanceType("ml.c4.xlarge", 4, 7.5, 0, 0.279),
        InstanceType("ml.p2.xlarge", 4, 61, 1, 1.125),
        InstanceType("ml.p3.2xlarge", 8, 61, 1, 3.825),
        InstanceType("ml.g4dn.xlarge", 4, 16, 1, 0.736),
        InstanceType("ml.g5.xlarge", 4, 16, 1, 1.408),
    )
}


def _local() -> InstanceType:
    return InstanceType("local", os.cpu_count() or 1, 0, 0, 0.0)


def get_instance_type(name: str) -> InstanceType:
    if name in ("local", "local_cpu"):
        return _local()
    if name == "local_gpu":
        return InstanceType("local_gpu", os.cpu_count() or 1, 0, 1, 0.0)
    found = CATALOG.get(name)
    if found is None:
        known = ", ".join(["local", *sorted(CATALOG)])
        raise ValidationError(f"InstanceType {name!r} is not a known instance type; use one of: {known}")
    return found
