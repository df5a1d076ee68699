"""Model-server instances as a fleet: what endpoints and batch transform jobs share.

Both run their model on instances of the same serving runtime (``kiln.runtime.serving``): a model
folder prepared once, one executor unit per instance with a private Unix socket, ready once it says
so, and asked to stop, then forced after SageMaker's 30 s. The fleet does those steps; what the
instances are for (routing an endpoint's traffic, feeding a transform job's records) is its user's.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from kiln.artifacts import ArtifactStore
from kiln.config import Settings
from kiln.executors import Executor
from kiln.records import ModelRecord
from kiln.services.endpoint_instances import (
    LaunchedInstance,
    launch_instance,
    prepare_model,
    wait_until_ready,
)

__all__ = ["InstanceFleet", "RunningProcess"]

STOP_TIMEOUT_SECONDS = 30.0  # asked to end, then forced after this (SageMaker's 30 s on scale-in)


@dataclass(frozen=True)
class RunningProcess:
    """What stopping an instance needs: its executor handle (None if it never started), its socket."""

    handle: str | None
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
        threads: int | None = None,
    ) -> LaunchedInstance:
        """Start one instance in ``folder``; ``environment`` goes over the model's own; ``threads``
        (the CPUs its capacity grant gives it) sizes numeric libraries' thread pools."""
        extra = dict(environment or {})
        if threads:
            extra.setdefault("OMP_NUM_THREADS", str(threads))
        model_dir, python = prepared
        return launch_instance(
            self.settings, self.executor, model, model_dir, python, folder, overrides=extra
        )

    def wait_ready(self, launched: LaunchedInstance) -> int:
        """The instance's HTTP port once it serves; InstanceStartFailed with its reason otherwise."""
        return wait_until_ready(self.executor, launched)

    def exited(self, handle: str | None) -> bool:
        return handle is None or self.executor.poll(handle) is not None

    def stop(self, processes: Iterable[RunningProcess]) -> None:
        """Ask every instance to end at once, force those still running after the grace period;
        their sockets are removed."""
        processes = list(processes)
        for process in processes:
            if process.handle is not None:
                self.executor.stop(process.handle)
        deadline = time.monotonic() + STOP_TIMEOUT_SECONDS
        for process in processes:
            handle = process.handle
            while handle is not None and self.executor.poll(handle) is None and time.monotonic() < deadline:
                time.sleep(0.02)
            if handle is not None and self.executor.poll(handle) is None:
                self.executor.stop(handle, force=True)
            if process.socket_path:
                Path(process.socket_path).unlink(missing_ok=True)
