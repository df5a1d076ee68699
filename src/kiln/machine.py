"""What a machine has to give: its CPUs, memory and GPUs, as this process sees them.

The local executor reports this machine as its inventory; the scheduler hands out what an executor's
inventory holds. Both use it, neither owns it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import psutil

__all__ = ["GIB", "Machine", "detect_machine"]

GIB = 1024**3
NVIDIA_SMI_TIMEOUT_SECONDS = 10
# A cgroup memory limit this large means "no limit" (cgroup v1 writes 2^63 rounded to a page).
UNLIMITED_CGROUP_BYTES = 1 << 60


@dataclass(frozen=True)
class Machine:
    """What an executor can hand out: for the local executor, this machine."""

    cpus: tuple[int, ...]  # CPU ids this server may use (its affinity)
    memory_bytes: int
    gpus: tuple[int, ...]  # GPU indexes as nvidia-smi numbers them
    # A cluster's inventory sums its nodes, but one instance runs on one node: the largest node's
    # CPUs and memory bound an instance. None: one machine (all of ``cpus`` and ``memory_bytes``).
    largest_node_cpus: int | None = None
    largest_node_memory_bytes: int | None = None

    @property
    def instance_cpus(self) -> int:
        """The most CPUs one instance can have here."""
        return len(self.cpus) if self.largest_node_cpus is None else self.largest_node_cpus

    @property
    def instance_memory_bytes(self) -> int:
        """The most memory one instance can have here."""
        return self.memory_bytes if self.largest_node_memory_bytes is None else self.largest_node_memory_bytes

    @property
    def memory_gib(self) -> float:
        return self.memory_bytes / GIB


def _cgroup_memory_limit() -> int | None:
    for path in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        try:
            text = Path(path).read_text().strip()
        except OSError:
            continue
        if text.isdigit() and int(text) < UNLIMITED_CGROUP_BYTES:
            return int(text)
    return None


def _nvidia_gpus() -> tuple[int, ...]:
    smi = shutil.which("nvidia-smi")
    if smi is None:
        return ()
    try:
        answer = subprocess.run(
            [smi, "--query-gpu=index", "--format=csv,noheader"],
            capture_output=True,
            text=True,
            timeout=NVIDIA_SMI_TIMEOUT_SECONDS,
        )
    except (OSError, subprocess.TimeoutExpired):
        return ()
    if answer.returncode != 0:
        return ()
    return tuple(int(line) for line in answer.stdout.split() if line.strip().isdigit())


def detect_machine() -> Machine:
    """This machine as this process sees it: its CPU affinity, its memory (or cgroup limit), its GPUs."""
    if hasattr(os, "sched_getaffinity"):
        cpus = tuple(sorted(os.sched_getaffinity(0)))
    else:  # pragma: no cover - macOS
        cpus = tuple(range(os.cpu_count() or 1))
    memory = psutil.virtual_memory().total
    limit = _cgroup_memory_limit()
    if limit is not None:
        memory = min(memory, limit)
    return Machine(cpus=cpus, memory_bytes=int(memory), gpus=_nvidia_gpus())
