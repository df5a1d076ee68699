"""Model-server instances as a fleet: what endpoints and batch transform jobs share.

Both run their model on instances of the same serving runtime (``kiln.runtime.serving``): a model
folder prepared once, one process per instance with a private Unix socket, ready once it says so, and
stopped with SIGTERM, then SIGKILL after SageMaker's 30 s. The fleet does those steps; what the
instances are for (routing an endpoint's traffic, feeding a transform job's records) is its user's.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from kiln.artifacts import ArtifactStore
from kiln.config import Settings
from kiln.executors import Executor, ProcessHandle
from kiln.records import ModelRecord
from kiln.services.endpoint_instances import (
    LaunchedInstance,
    launch_instance,
    prepare_model,
    wait_until_ready,
)

__all__ = ["InstanceFleet", "RunningProcess"]

STOP_TIMEOUT_SECONDS = 30.0  # SIGTERM, then SIGKILL after this (SageMaker's 30 s on scale-in)


@dataclass(frozen=True)
class RunningProcess:
    """What stopping an instance needs: its process (None if it never started) and its socket."""

    handle: ProcessHandle | None
    socket_path: str | None = None


@dataclass
class InstanceFleet:
    settings: Settings
    store: ArtifactStore
    executor: Executor

    def prepare(self, model: ModelRecord) -> tuple[Path, str]:
        """(the model's folder, the Python that serves it), prepared once per model."""
        return prepare_model(self.settings, self.store, model)

    def launch(
        self,
        model: ModelRecord,
        prepared: tuple[Path, str],
        folder: Path,
        *,
        environment: Mapping[str, str] | None = None,
        cpus: Sequence[int] | None = None,
    ) -> LaunchedInstance:
        """Start one instance in ``folder`` (its log: ``instance.log``); ``environment`` goes over the
        model's own; ``cpus`` pins it to those CPUs, as a job's capacity grant says."""
        extra = dict(environment or {})
        if cpus:
            # Numeric libraries size their thread pools by the CPUs they see, not by the affinity.
            extra.setdefault("OMP_NUM_THREADS", str(len(cpus)))
        model_dir, python = prepared
        launched = launch_instance(
            self.settings, self.executor, model, model_dir, python, folder, overrides=extra
        )
        if cpus:
            try:
                os.sched_setaffinity(launched.handle.pid, set(cpus))
            except (OSError, AttributeError):
                pass  # gone already (its start-up failure is reported by wait_ready), or not Linux
        return launched

    def wait_ready(self, launched: LaunchedInstance) -> int:
        """The instance's HTTP port once it serves; InstanceStartFailed with its reason otherwise."""
        return wait_until_ready(self.executor, launched)

    def exited(self, handle: ProcessHandle | None) -> bool:
        return handle is None or self.executor.exit_code(handle) is not None

    def stop(self, processes: Iterable[RunningProcess]) -> None:
        """SIGTERM to every instance at once, SIGKILL to those still running after the grace period;
        their sockets are removed."""
        processes = list(processes)
        for process in processes:
            if process.handle is not None:
                self.executor.signal(process.handle, signal.SIGTERM)
        deadline = time.monotonic() + STOP_TIMEOUT_SECONDS
        for process in processes:
            handle = process.handle
            while (
                handle is not None and self.executor.exit_code(handle) is None and time.monotonic() < deadline
            ):
                time.sleep(0.02)
            if handle is not None and self.executor.exit_code(handle) is None:
                self.executor.signal(handle, signal.SIGKILL)
            if process.socket_path:
                Path(process.socket_path).unlink(missing_ok=True)
