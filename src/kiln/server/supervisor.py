"""The supervisor: a background thread that watches running work for the control plane."""

from __future__ import annotations

import logging
import threading

from kiln.services import TrainingJobService

__all__ = ["Supervisor"]

log = logging.getLogger("kiln.supervisor")

SUPERVISE_EVERY_SECONDS = 0.5  # how quickly a vanished host process is noticed


class Supervisor:
    def __init__(self, training_jobs: TrainingJobService) -> None:
        self._training_jobs = training_jobs
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="kiln-supervisor", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stop.wait(SUPERVISE_EVERY_SECONDS):
            try:
                self._training_jobs.supervise_once()
            except Exception:  # one bad pass must not end supervision
                log.exception("supervision pass failed")
