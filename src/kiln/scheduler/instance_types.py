"""The instance-type catalog: what each type grants (vCPUs, memory, GPUs) and its hourly reference price.

Three sources, one lookup: SageMaker's common types (prices are approximate us-east-1 training prices,
docs/contracts.md §5: they make cost estimates comparable, not bills), ``local`` (SageMaker local mode's
name for "the whole machine"), and types the operator defines in ``config.toml``::

    [instance_types."kiln.small"]
    vcpus = 1
    memory_gib = 2
    gpus = 0
    price_per_hour = 0.01
    node_resources = { "kiln-small" = 1 }   # optional: Ray custom resources each unit asks for
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

from kiln.config import CapacitySettings
from kiln.errors import ValidationError

__all__ = [
    "CATALOG",
    "LOCAL_TYPES",
    "Catalog",
    "InstanceType",
    "get_instance_type",
    "resolve_catalog",
]

LOCAL_TYPES = ("local", "local_cpu", "local_gpu")  # SageMaker local mode's names: the whole machine


@dataclass(frozen=True)
class InstanceType:
    name: str
    vcpus: int
    memory_gib: float  # 0: not stated (no memory cap)
    gpus: int
    price_per_hour: float  # USD, reference only
    source: str = "catalog"  # "catalog", "operator" (config.toml) or "local"
    # Ray custom resources each unit of the type asks for (an operator's node label, e.g.
    # {"kiln-gpu-box": 1}): on a Ray cluster its units run only on nodes started with them.
    node_resources: dict[str, float] = field(default_factory=dict)

    @property
    def is_local(self) -> bool:
        return self.source == "local"

    @property
    def is_gpu(self) -> bool:
        return self.gpus > 0


CATALOG: dict[str, InstanceType] = {
    t.name: t
    for t in (
        InstanceType("ml.t3.medium", 2, 4, 0, 0.05),
        InstanceType("ml.m5.large", 2, 8, 0, 0.115),
        InstanceType("ml.m5.xlarge", 4, 16, 0, 0.23),
        InstanceType("ml.m5.2xlarge", 8, 32, 0, 0.461),
        InstanceType("ml.m5.4xlarge", 16, 64, 0, 0.922),
        InstanceType("ml.m4.xlarge", 4, 16, 0, 0.28),
        InstanceType("ml.c5.large", 2, 4, 0, 0.102),
        InstanceType("ml.c5.xlarge", 4, 8, 0, 0.204),
        InstanceType("ml.c5.2xlarge", 8, 16, 0, 0.408),
        InstanceType("ml.c4.xlarge", 4, 7.5, 0, 0.279),
        InstanceType("ml.p2.xlarge", 4, 61, 1, 1.125),
        InstanceType("ml.p3.2xlarge", 8, 61, 1, 3.825),
        InstanceType("ml.p3.8xlarge", 32, 244, 4, 14.688),
        InstanceType("ml.g4dn.xlarge", 4, 16, 1, 0.736),
        InstanceType("ml.g5.xlarge", 4, 16, 1, 1.408),
        InstanceType("ml.g5.2xlarge", 8, 32, 1, 1.515),
    )
}


def _local(name: str, cpus: int, memory_gib: float, gpus: int) -> InstanceType:
    return InstanceType(name, cpus, memory_gib, gpus, 0.0, source="local")


def _unknown(name: str, known: list[str]) -> ValidationError:
    return ValidationError(
        f"InstanceType {name!r} is not a known instance type; use one of: {', '.join(known)} "
        "(`kiln instance-types` lists them; operators add their own in config.toml)"
    )


def get_instance_type(name: str) -> InstanceType:
    """A built-in type (or ``local``, sized to this process's CPUs), without operator types."""
    if name in LOCAL_TYPES:
        cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
        return _local(name, cpus, 0, 1 if name == "local_gpu" else 0)
    found = CATALOG.get(name)
    if found is None:
        raise _unknown(name, ["local", *sorted(CATALOG)])
    return found


class Catalog(Mapping[str, InstanceType]):
    """Every instance type this server knows: the built-in ones, the operator's, and ``local``."""

    def __init__(self, types: Mapping[str, InstanceType], local: InstanceType) -> None:
        self._types = dict(types)
        self._local = local

    def get_type(self, name: str) -> InstanceType:
        """The type called ``name``; ValidationError naming the known ones for any other name."""
        if name in LOCAL_TYPES:
            return InstanceType(
                name, self._local.vcpus, self._local.memory_gib, self._local.gpus, 0.0, "local"
            )
        found = self._types.get(name)
        if found is None:
            raise _unknown(name, list(self))
        return found

    def __getitem__(self, name: str) -> InstanceType:
        try:
            return self.get_type(name)
        except ValidationError:
            raise KeyError(name) from None

    def __iter__(self) -> Iterator[str]:
        return iter(["local", *sorted(self._types)])

    def __len__(self) -> int:
        return len(self._types) + 1


def resolve_catalog(capacity: CapacitySettings, *, cpus: int, memory_gib: float, gpus: int) -> Catalog:
    """The built-in catalog plus the operator's types (which may redefine a built-in one)."""
    types = dict(CATALOG)
    for name, fields in capacity.instance_types.items():
        if name in LOCAL_TYPES:
            raise ValidationError(
                f"config file {capacity.source}: instance_types.{name!r} cannot be redefined; "
                f"{name!r} always means the whole machine"
            )
        types[name] = InstanceType(
            name,
            vcpus=int(fields["vcpus"]),
            memory_gib=float(fields.get("memory_gib", 0)),
            gpus=int(fields.get("gpus", 0)),
            price_per_hour=float(fields.get("price_per_hour", 0)),
            source="operator",
            node_resources=dict(capacity.node_resources.get(name, {})),
        )
    return Catalog(types, _local("local", cpus, memory_gib, gpus))
