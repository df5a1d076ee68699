"""The supervisor: a background thread that watches running work for the control plane.

On a cluster it also follows the executor's inventory, so nodes that join or leave change what the
scheduler admits.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from kiln.records import TrainingJob
from kiln.services import TrainingJobService
from kiln.services.endpoints import EndpointService
from kiln.services.pipelines.engine import PipelineEngine
from kiln.services.tuning.jobs import TuningJobService

__all__ = ["Supervisor"]

log = logging.getLogger("kiln.supervisor")

SUPERVISE_EVERY_SECONDS = 0.5  # how quickly a vanished host process is noticed
# How often a remote executor's inventory is read again (a call to the cluster's head): how quickly
# a node that joined is used.
INVENTORY_EVERY_SECONDS = 2.0


class Supervisor:
    def __init__(
        self,
        training_jobs: TrainingJobService,
        endpoints: EndpointService,
        tuning_jobs: TuningJobService | None = None,
        pipelines: PipelineEngine | None = None,
    ) -> None:
        self._training_jobs = training_jobs
        self._endpoints = endpoints
        self._tuning_jobs = tuning_jobs
        self._pipelines = pipelines
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread = threading.Thread(target=self._run, name="kiln-supervisor", daemon=True)
        self._inventory_read_at = 0.0

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout=5)

    def wake(self, _ended: TrainingJob | None = None) -> None:
        """Make the next pass now: a training job ended, and its tuning job can start the next trial
        (or its pipeline the next step); a pipeline execution started or was stopped."""
        self._wake.set()

    def _sleep(self) -> bool:
        """Wait until the next pass is due or someone wakes us; True when supervision is over."""
        self._wake.wait(SUPERVISE_EVERY_SECONDS)
        self._wake.clear()
        return self._stop.is_set()

    def _follow_inventory(self) -> None:
        """Give the scheduler the cluster as it is now: its nodes join and leave."""
        if time.monotonic() - self._inventory_read_at < INVENTORY_EVERY_SECONDS:
            return
        self._inventory_read_at = time.monotonic()
        self._training_jobs.capacity.update_machine(self._training_jobs.executor.inventory())

    def _run(self) -> None:
        passes: list[tuple[str, Callable[[], object]]] = []
        if self._training_jobs.executor.remote:  # first: what it admits starts in this pass
            passes.append(("the cluster's inventory", self._follow_inventory))
        passes += [
            ("training jobs", self._training_jobs.supervise_once),
            ("endpoints", self._endpoints.supervise_once),
        ]
        if self._tuning_jobs is not None:
            passes.append(("tuning jobs", self._tuning_jobs.step_all))
        if self._pipelines is not None:
            passes.append(("pipeline executions", self._pipelines.advance_all))
        while not self._sleep():
            for name, supervise in passes:
                try:
                    supervise()
                except Exception:  # one bad pass must not end supervision
                    log.exception("supervision pass over %s failed", name)
