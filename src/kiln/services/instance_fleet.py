"""Model-server instances as a fleet: what endpoints and batch transform jobs share.

Both run their model on instances of the same serving runtime (``kiln.runtime.serving``): one
executor unit per instance, ready once it says so, and asked to stop, then forced after SageMaker's
30 s. The fleet does those steps; what the instances are for (routing an endpoint's traffic, feeding
a transform job's records) is its user's.

Where they run: beside the server (a model folder prepared once by the server, a private Unix socket
each), or, for a fleet made ``anywhere`` on a cluster executor, on any node with room (each prepares
the model on its node and answers over TCP behind its secret).
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
    ReadyInstance,
    launch_instance,
    launch_instance_anywhere,
    link_secret,
    prepare_model,
    wait_until_ready,
)
from kiln.services.instance_links import parse_tcp_address

__all__ = ["InstanceFleet", "RunningProcess"]

STOP_TIMEOUT_SECONDS = 30.0  # asked to end, then forced after this (SageMaker's 30 s on scale-in)

# How a model is ready to launch: its folder and Python on the server's machine, or None when each
# instance prepares it on its own node.
Prepared = tuple[Path, str] | None


@dataclass(frozen=True)
class RunningProcess:
    """What stopping an instance needs: its executor handle (None if it never started), and its link's
    address (a Unix socket is removed once the instance stopped)."""

    handle: str | None
    socket_path: str | None = None


@dataclass
class InstanceFleet:
    settings: Settings
    store: ArtifactStore
    executor: Executor
    # Instances may run on any node of the executor's cluster (only a remote executor has others).
    anywhere: bool = False

    @property
    def spreads(self) -> bool:
        return self.anywhere and self.executor.remote

    def prepare(self, model: ModelRecord) -> Prepared:
        """The model made ready to launch: once per model on the server's machine; nothing to do here
        when the instances prepare it on their nodes (a bad archive then fails the instance's start)."""
        return None if self.spreads else prepare_model(self.settings, self.store, model)

    def link_secret(self, instance_id: str) -> bytes:
        """What the link to a TCP instance presents (the runtime router asks for it by instance id)."""
        return link_secret(self.settings, instance_id)

    def launch(
        self,
        model: ModelRecord,
        prepared: Prepared,
        folder: Path,
        *,
        environment: Mapping[str, str] | None = None,
        threads: int | None = None,
        node_resources: Mapping[str, float] | None = None,
    ) -> LaunchedInstance:
        """Start one instance in ``folder`` (its name is the instance's id); ``environment`` goes over
        the model's own; ``threads`` (the CPUs its capacity grant gives it) sizes numeric libraries'
        thread pools; ``node_resources`` (its type's node label) limits where it may run on a cluster."""
        extra = dict(environment or {})
        if threads:
            extra.setdefault("OMP_NUM_THREADS", str(threads))
        if prepared is None:
            return launch_instance_anywhere(
                self.settings,
                self.executor,
                self.store,
                model,
                folder,
                self.link_secret(folder.name),
                cpus=float(threads or 1),
                node_resources=node_resources,
                overrides=extra,
            )
        model_dir, python = prepared
        return launch_instance(
            self.settings, self.executor, model, model_dir, python, folder, overrides=extra
        )

    def wait_ready(self, launched: LaunchedInstance) -> ReadyInstance:
        """The instance's HTTP port and link address once it serves; InstanceStartFailed with its
        reason otherwise."""
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
            if process.socket_path and parse_tcp_address(process.socket_path) is None:
                Path(process.socket_path).unlink(missing_ok=True)
