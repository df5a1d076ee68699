"""What a request for ``count`` instances of a type gets on this machine.

A type larger than the machine (an ml.m5.xlarge on a 2-core laptop, a GPU type without a GPU) runs
scaled down to what is there, with a warning for the job's log and its description; in strict mode it
is refused at submission instead, with the reason. ``local`` is SageMaker local mode: the whole machine,
outside the queue and the limits.

On a cluster (``elastic``: nodes join and leave) a request is never shrunk to the cluster's size of the
moment: more instances than the cluster has room for wait in the queue until nodes join. Each
instance is still scaled down to the largest node when strict mode is off; in strict mode it waits
for a node that large instead of being refused.
"""

from __future__ import annotations

from dataclasses import dataclass

from kiln.errors import ValidationError
from kiln.scheduler.capacity import GIB, Machine
from kiln.scheduler.instance_types import InstanceType

__all__ = ["Sizing", "size_request"]


@dataclass(frozen=True)
class Sizing:
    instance_type: InstanceType
    count: int
    scheduled: bool  # False for ``local``: it runs at once on the whole machine
    slots: int  # CPU slots reserved in all
    cpus_per_instance: int
    gpus_per_instance: int
    memory_bytes: int | None  # per instance; None: no cap
    warnings: tuple[str, ...] = ()


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def _gib(n_bytes: float) -> str:
    return f"{n_bytes / GIB:.3g} GiB"


STRICT_HINT = (
    "strict_instance_types is on, so Kiln refuses instead of scaling it down; choose a type that fits "
    "(`kiln instance-types`) or turn strict mode off (strict_instance_types = false in config.toml, "
    "KILN_STRICT_INSTANCE_TYPES=0)"
)


def size_request(
    itype: InstanceType,
    count: int,
    machine: Machine,
    total_slots: int,
    *,
    strict: bool,
    elastic: bool = False,
) -> Sizing:
    """The grant shape for ``count`` × ``itype`` here; ValidationError in strict mode if it must shrink
    (``elastic``: a cluster, where what does not fit now waits instead; see the module's docstring)."""
    if itype.is_local:
        # The whole machine; on a cluster, the largest node (one host runs on one node).
        cpus = machine.instance_cpus if elastic else len(machine.cpus)
        return Sizing(itype, count, False, 0, cpus, len(machine.gpus), None)
    if elastic:
        return _size_on_cluster(itype, count, machine, strict=strict)
    warnings: list[str] = []
    refusals: list[str] = []
    what = itype.name if count == 1 else f"{count} × {itype.name}"
    cpus = min(itype.vcpus, machine.instance_cpus, total_slots)
    if cpus < itype.vcpus:
        warnings.append(
            f"Kiln: {itype.name} asks for {itype.vcpus} vCPUs; this machine has {cpus}; "
            f"running on {cpus} (scaled down)"
        )
        refusals.append(f"asks for {itype.vcpus} vCPUs per instance; this machine has {cpus}")
    slots = count * cpus
    if slots > total_slots:
        cpus = max(1, total_slots // count)
        slots = min(count * cpus, total_slots)
        warnings.append(
            f"Kiln: {what} ask for {count * itype.vcpus} vCPUs; this machine has {total_slots}; "
            f"running the {count} hosts on {slots} (scaled down)"
        )
        refusals.append(f"asks for {count * itype.vcpus} vCPUs in all; this machine has {total_slots}")
    gpus = min(itype.gpus, len(machine.gpus) // count)
    if gpus < itype.gpus:
        have = _plural(len(machine.gpus), "GPU") if machine.gpus else "none"
        running = f"running on {_plural(gpus, 'GPU')}" if gpus else "running on CPUs only"
        asked = _plural(count * itype.gpus, "GPU")
        warnings.append(f"Kiln: {what} asks for {asked}; this machine has {have}; {running} (scaled down)")
        refusals.append(f"asks for {asked}; this machine has {have}")
    memory: int | None = int(itype.memory_gib * GIB) if itype.memory_gib > 0 else None
    if memory is not None and memory > machine.instance_memory_bytes:
        memory = machine.instance_memory_bytes
        warnings.append(
            f"Kiln: {itype.name} asks for {itype.memory_gib:g} GiB of memory; this machine has "
            f"{_gib(memory)}; capping each host at {_gib(memory)} (scaled down)"
        )
        refusals.append(f"asks for {itype.memory_gib:g} GiB of memory; this machine has {_gib(memory)}")
    if strict and refusals:
        raise ValidationError(
            f"ResourceConfig.InstanceType {itype.name!r} (InstanceCount {count}) "
            f"{'; it '.join(refusals)}. {STRICT_HINT}."
        )
    return Sizing(itype, count, True, slots, cpus, gpus, memory, tuple(warnings))


def _size_on_cluster(itype: InstanceType, count: int, machine: Machine, *, strict: bool) -> Sizing:
    warnings: list[str] = []
    cpus = itype.vcpus
    largest = machine.instance_cpus
    if not strict and 0 < largest < cpus:
        cpus = largest
        warnings.append(
            f"Kiln: {itype.name} asks for {itype.vcpus} vCPUs; the cluster's largest node has {largest}; "
            f"running on {cpus} (scaled down)"
        )
    gpus = itype.gpus
    if not strict and len(machine.gpus) < count * gpus:
        gpus = len(machine.gpus) // count
        have = _plural(len(machine.gpus), "GPU") if machine.gpus else "none"
        running = f"running on {_plural(gpus, 'GPU')}" if gpus else "running on CPUs only"
        warnings.append(
            f"Kiln: {count} × {itype.name} ask for {_plural(count * itype.gpus, 'GPU')}; "
            f"the cluster has {have}; {running} (scaled down)"
        )
    memory: int | None = int(itype.memory_gib * GIB) if itype.memory_gib > 0 else None
    largest_memory = machine.instance_memory_bytes
    if memory is not None and not strict and 0 < largest_memory < memory:
        memory = largest_memory
        warnings.append(
            f"Kiln: {itype.name} asks for {itype.memory_gib:g} GiB of memory; the cluster's largest node "
            f"has {_gib(memory)}; capping each host at {_gib(memory)} (scaled down)"
        )
    return Sizing(itype, count, True, count * cpus, cpus, gpus, memory, tuple(warnings))
