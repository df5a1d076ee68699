"""Host jobs (training and processing) and the scheduler: a reservation at submission, its release
once the job's processes are gone, and both brought back in step after a server restart.

A job's reservation is owned by ``training-job/<name>`` whatever its kind (host jobs share one name
space). Submission holds the scheduler's lock from
the limit check to the stored job, so concurrent submissions are refused or queued exactly as if they
came one by one, and an admission never sees a reservation whose job is not stored yet.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from kiln import metadata
from kiln.errors import Conflict
from kiln.metadata import Database
from kiln.metadata.training_jobs import PROCESSING_JOBS, TRAINING_JOBS
from kiln.records import (
    CapacityUse,
    Reservation,
    ReservationState,
    SecondaryStatus,
    TrainingJob,
    host_job_resources,
    utcnow,
)
from kiln.scheduler import Scheduler

__all__ = ["OWNER_PREFIX", "JobAdmission", "job_owner"]

OWNER_PREFIX = "training-job/"
STARTING_MESSAGE = "Preparing the instances for training"
JOB_USES = (CapacityUse.TRAINING, CapacityUse.TUNING, CapacityUse.PROCESSING)


def job_owner(name: str) -> str:
    return f"{OWNER_PREFIX}{name}"


def _processes_done(job: TrainingJob) -> bool:
    return all(h.state.is_terminal() or h.handle is None for h in job.hosts)


@dataclass
class JobAdmission:
    db: Database
    scheduler: Scheduler

    def submit(
        self,
        name: str,
        request: dict[str, Any],
        hosts: Sequence[str],
        use: CapacityUse,
        *,
        kind: str = "training",
    ) -> tuple[TrainingJob, Reservation]:
        """Reserve (or refuse, or queue) and store the job: Starting if admitted now, else Pending."""
        resources = host_job_resources(request)
        names = PROCESSING_JOBS if kind == "processing" else TRAINING_JOBS
        existing = metadata.find_training_job(self.db, name, details=False)
        if existing is not None:  # the clearer refusal comes first
            if existing.kind != kind:
                raise Conflict(
                    f"The name {name!r} is taken by a {existing.kind} job: Kiln's training and processing "
                    f"jobs share one name space; choose another {names.name_field}."
                )
            raise names.already_exists(name)
        with self.scheduler.holding():
            try:
                reservation = self.scheduler.reserve(
                    use,
                    job_owner(name),
                    str(resources.get("InstanceType", "")),
                    int(resources.get("InstanceCount", 1)),
                    priority=int(request.get("Priority") or 0),
                )
            except Conflict:
                raise names.already_exists(name) from None
            admitted = reservation.state is ReservationState.ACTIVE
            try:
                job = metadata.insert_training_job(
                    self.db,
                    name,
                    request,
                    hosts,
                    utcnow(),
                    STARTING_MESSAGE if admitted else reservation.message,
                    secondary=SecondaryStatus.STARTING if admitted else SecondaryStatus.PENDING,
                    priority=reservation.priority,
                    price_per_hour=reservation.price_per_hour,
                    capacity_warnings=reservation.warnings,
                    kind=kind,
                )
            except BaseException:
                self.scheduler.release(job_owner(name), forget=True)
                raise
        return job, reservation

    def reservation(self, name: str) -> Reservation | None:
        return self.scheduler.find(job_owner(name))

    def release_if_done(self, job: TrainingJob) -> None:
        """Give the job's capacity back once it has ended and none of its processes is left."""
        if job.status.is_terminal() and _processes_done(job):
            self.scheduler.release(job_owner(job.name))

    def withdraw_if_waiting(self, name: str) -> bool:
        """Leave the queue (a stop while Pending); False if the job already holds its capacity."""
        with self.scheduler.holding():
            reservation = self.reservation(name)
            if reservation is None or reservation.state is not ReservationState.PENDING:
                return False
            self.scheduler.release(job_owner(name))
            return True

    def reconcile(self) -> list[TrainingJob]:
        """After a (re)start: release what ended jobs still hold, forget reservations whose job was
        never stored, queue waiting jobs that hold none; returns the unfinished jobs."""
        with self.scheduler.holding():
            jobs = metadata.list_active_training_jobs(self.db)
            unfinished = {job.name for job in jobs}
            for reservation in self.scheduler.live():
                if reservation.use not in JOB_USES or not reservation.owner.startswith(OWNER_PREFIX):
                    continue
                name = reservation.owner[len(OWNER_PREFIX) :]
                if name in unfinished:
                    continue
                ended = metadata.find_training_job(self.db, name, details=False)
                if ended is None:
                    self.scheduler.release(reservation.owner, forget=True)
                else:
                    self.release_if_done(ended)
            for job in jobs:
                if self.reservation(job.name) is None and job.secondary_status is SecondaryStatus.PENDING:
                    self.scheduler.reserve(
                        CapacityUse.PROCESSING if job.kind == "processing" else CapacityUse.TRAINING,
                        job_owner(job.name),
                        job.instance_type,
                        job.instance_count,
                        priority=job.priority,
                    )
        return jobs
