"""What a request for ``count`` instances of a type gets on this machine.

A type larger than the machine (an ml.m5.xlarge on a 2-core laptop, a GPU type without a GPU) runs
scaled down to what is there, with a warning for the job's log and its description; in strict mode it
is refused at submission instead, with the reason. ``local`` is SageMaker local mode: the whole machine,
outside the queue and the limits.
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
    itype: InstanceType, count: int, machine: Machine, total_slots: int, *, strict: bool
) -> Sizing:
    """The grant shape for ``count`` × ``itype`` here; ValidationError in strict mode if it must shrink."""
    if itype.is_local:
        return Sizing(itype, count, False, 0, len(machine.cpus), len(machine.gpus), None)
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
