"""A host's grant, applied: CPU affinity, matching thread counts, a memory cap and GPU visibility.

The runtime confines itself to its CPUs before it starts any thread, so the script and everything it
starts inherit them. Thread variables match the CPU count (torch reads OMP_NUM_THREADS for its intra-op
pool). Memory is capped with cgroup v2 ``memory.max`` where this process may create a cgroup, else with
RLIMIT_AS (address space: generous for most scripts, it also counts mapped-but-unused memory).
"""

from __future__ import annotations

import contextlib
import os
import resource
import uuid
from pathlib import Path

from kiln.runtime.training.spec import HostSpec

__all__ = ["THREAD_VARIABLES", "MemoryCap", "confine_to_cpus", "describe_grant", "grant_environment"]

THREAD_VARIABLES = (
    "OMP_NUM_THREADS",
    "MKL_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "NUMEXPR_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
)
GIB = 1024**3


def confine_to_cpus(cpus: list[int]) -> str | None:
    """Pin this process (and so its future children) to ``cpus``; a reason if the OS refused."""
    if not cpus or not hasattr(os, "sched_setaffinity"):
        return None
    try:
        os.sched_setaffinity(0, cpus)
    except OSError as e:
        return f"Kiln: could not pin this host to CPUs {cpus}: {e.strerror}"
    return None


def _threads(spec: HostSpec) -> int:
    """One thread per granted CPU (local mode's hosts share the machine, so each gets its part)."""
    return max(1, len(spec.cpus) if spec.cpus else spec.num_cpus)


def grant_environment(spec: HostSpec) -> dict[str, str]:
    """Thread counts for the host's CPUs and, where GPUs are managed, the ones it may see."""
    env = dict.fromkeys(THREAD_VARIABLES, str(_threads(spec)))
    if spec.gpus is not None:
        env["CUDA_VISIBLE_DEVICES"] = ",".join(str(g) for g in spec.gpus)  # "" hides every GPU
    return env


def _cgroup2_mount() -> Path | None:
    try:
        for line in Path("/proc/self/mountinfo").read_text().splitlines():
            fields = line.split(" - ", 1)
            if len(fields) == 2 and fields[1].split()[0] == "cgroup2":
                return Path(fields[0].split()[4])
    except OSError:
        pass
    return None


def _own_cgroup() -> str | None:
    try:
        for line in Path("/proc/self/cgroup").read_text().splitlines():
            if line.startswith("0::"):
                return line[3:].strip()
    except OSError:
        pass
    return None


def _make_cgroup(limit: int, label: str) -> Path | None:
    """A child of this process's cgroup v2 group with ``memory.max`` set; None where that is not allowed."""
    mount, own = _cgroup2_mount(), _own_cgroup()
    if mount is None or own is None:
        return None
    parent = mount / own.lstrip("/")
    try:
        control = parent / "cgroup.subtree_control"
        if "memory" not in control.read_text().split():
            control.write_text("+memory")  # refused (EBUSY) when the parent holds processes itself
        group = parent / f"kiln-{label}-{uuid.uuid4().hex[:8]}"
        group.mkdir()
    except OSError:
        return None
    try:
        (group / "memory.max").write_text(str(limit))
    except OSError:
        with contextlib.suppress(OSError):
            group.rmdir()
        return None
    return group


class MemoryCap:
    """The memory cap of the script's process tree: prepared here, entered in the child before exec."""

    def __init__(self, limit: int | None, label: str) -> None:
        self.limit = limit
        self._group = _make_cgroup(limit, label) if limit else None

    @property
    def mechanism(self) -> str:
        if self.limit is None:
            return "none"
        return "cgroup v2 memory.max" if self._group is not None else "RLIMIT_AS"

    def enter(self) -> None:
        """Runs in the child between fork and exec (``preexec_fn``): join the cgroup, or set RLIMIT_AS."""
        if self.limit is None:
            return
        if self._group is not None:
            try:
                with open(self._group / "cgroup.procs", "w") as procs:
                    procs.write(str(os.getpid()))
                return
            except OSError:
                pass
        resource.setrlimit(resource.RLIMIT_AS, (self.limit, self.limit))

    def close(self) -> None:
        """Remove the cgroup once the script's processes are gone (it cannot go while any is left)."""
        if self._group is not None:
            with contextlib.suppress(OSError):
                self._group.rmdir()


def _ranges(ids: list[int]) -> str:
    parts: list[str] = []
    for i in sorted(ids):
        if parts and "-" not in parts[-1] and int(parts[-1]) == i - 1:
            parts[-1] = f"{parts[-1]}-{i}"
        elif parts and "-" in parts[-1] and int(parts[-1].split("-")[1]) == i - 1:
            parts[-1] = f"{parts[-1].split('-')[0]}-{i}"
        else:
            parts.append(str(i))
    return ",".join(parts)


def describe_grant(spec: HostSpec, cap: MemoryCap) -> str:
    """One line for the job's log: what this host was granted and how it is enforced."""
    threads = _threads(spec)
    line = f"Kiln: {spec.host} runs on CPUs {_ranges(spec.cpus)} ({threads} thread{'s' * (threads != 1)})"
    if cap.limit is not None:
        line += f", memory capped at {cap.limit / GIB:.3g} GiB ({cap.mechanism})"
    if spec.gpus:
        line += f", GPUs {_ranges(spec.gpus)}"
    elif spec.gpus is not None:
        line += ", no GPU"
    return line
