"""The machine's inventory (CPUs, memory, GPUs) and which of them are promised to whom.

CPUs are handed out as slots: with the oversubscription factor at 1.0 (the default) a CPU is promised
to one instance at a time, so Kiln never promises more cores than exist; at 2.0 each CPU may be
promised twice. Each instance's CPUs are distinct, chosen least-loaded first. GPUs are never shared.

On a cluster the inventory changes as nodes join and leave (``regrown``): CPU ids are then only
counters (the executor places the amounts), and every promise made before the change is kept.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from kiln.machine import GIB, Machine, detect_machine

__all__ = ["GIB", "CpuPool", "Machine", "detect_machine"]


class CpuPool:
    """Which CPU slots and GPUs are promised. Not thread-safe: the scheduler holds its lock."""

    def __init__(self, machine: Machine, oversubscription: float) -> None:
        self.machine = machine
        self.oversubscription = oversubscription
        # A tiny epsilon keeps 2 × 1.5 = 3 slots from rounding to 2 in floating point.
        self.total_slots = max(1, math.floor(len(machine.cpus) * oversubscription + 1e-9))
        self._per_cpu = max(1, math.ceil(oversubscription - 1e-9))
        self._cpus = frozenset(machine.cpus)
        self._load = dict.fromkeys(machine.cpus, 0)
        self._free_gpus = list(machine.gpus)

    def regrown(self, machine: Machine) -> CpuPool:
        """A pool over ``machine`` (a cluster after nodes joined or left) that keeps every promise of
        this one. A held CPU or GPU id the new inventory lacks stays held (and counted) until it is
        given back, so a shrunken cluster admits nothing new until enough is released."""
        pool = CpuPool(machine, self.oversubscription)
        for cpu, load in self._load.items():
            if load:
                pool._load[cpu] = pool._load.get(cpu, 0) + load
        held_gpus = set(self.machine.gpus) - set(self._free_gpus)
        pool._free_gpus = [gpu for gpu in machine.gpus if gpu not in held_gpus]
        return pool

    @property
    def used_slots(self) -> int:
        return sum(self._load.values())

    @property
    def free_slots(self) -> int:
        return max(0, self.total_slots - self.used_slots)

    @property
    def free_gpus(self) -> int:
        return len(self._free_gpus)

    def take(
        self, count: int, cpus_per_instance: int, slots: int, gpus_per_instance: int
    ) -> list[tuple[tuple[int, ...], tuple[int, ...]]] | None:
        """Promise ``slots`` CPU slots and the GPUs of ``count`` instances; per instance, its (CPUs, GPUs).

        None (and nothing promised) when they are not free. When a scaled-down job has more instances
        than slots, instances beyond the slots share the CPUs of the first ones.
        """
        if slots > self.free_slots or count * gpus_per_instance > len(self._free_gpus):
            return None
        if slots and cpus_per_instance > self.machine.instance_cpus:
            return None  # no node is that large (yet): on a cluster, one may join
        load = dict(self._load)
        owned: list[tuple[int, ...]] = []
        for _ in range(max(1, slots // max(1, cpus_per_instance)) if slots else 0):
            group = self._pick(load, cpus_per_instance)
            if group is None:
                return None
            owned.append(group)
        self._load = load
        gpus = self._free_gpus[: count * gpus_per_instance]
        del self._free_gpus[: count * gpus_per_instance]
        per_instance = []
        for i in range(count):
            cpus = owned[i % len(owned)] if owned else ()
            per_instance.append((cpus, tuple(gpus[i * gpus_per_instance : (i + 1) * gpus_per_instance])))
        return per_instance

    def _pick(self, load: dict[int, int], n: int) -> tuple[int, ...] | None:
        """``n`` distinct CPUs with room, least loaded first (lowest id on ties); None if there are not."""
        candidates = sorted((c for c in load if load[c] < self._per_cpu), key=lambda c: (load[c], c))
        if len(candidates) < n:
            return None
        chosen = sorted(candidates[:n])
        for cpu in chosen:
            load[cpu] += 1
        return tuple(chosen)

    def hold(self, owned_cpus: Sequence[Sequence[int]], gpus: Sequence[int]) -> None:
        """Mark as promised what a reservation already holds (a restarted server reloading its state)."""
        for group in owned_cpus:
            for cpu in group:
                if cpu in self._load:
                    self._load[cpu] += 1
        for gpu in gpus:
            if gpu in self._free_gpus:
                self._free_gpus.remove(gpu)

    def give_back(self, owned_cpus: Sequence[Sequence[int]], gpus: Sequence[int]) -> None:
        for group in owned_cpus:
            for cpu in group:
                if self._load.get(cpu, 0) > 0:
                    self._load[cpu] -= 1
                if self._load.get(cpu) == 0 and cpu not in self._cpus:
                    del self._load[cpu]  # an id the inventory lost, now that nobody holds it
        for gpu in gpus:
            if gpu in self.machine.gpus and gpu not in self._free_gpus:
                self._free_gpus.append(gpu)
        self._free_gpus.sort()
