"""Training jobs as use-cases: create, describe, list, stop, and what hosts report while they run.

The control plane is the only writer of job status. Hosts report; this module decides what a report
means for the job: a failed host fails the job and stops the others; a host that vanished restarts
the job while ``RetryStrategy`` allows; the last host to finish ends it. Capacity comes from the
scheduler (``job_admission``): a job within its limits starts at once or waits Pending, and starts by
itself when the scheduler admits it; its capacity goes back once its processes are gone.
"""

from __future__ import annotations

import json
import logging
import signal
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from kiln import metadata
from kiln.algorithms import add_metric_definitions
from kiln.artifacts import ArtifactStore
from kiln.artifacts.archives import ArchiveLimits
from kiln.config import Settings
from kiln.errors import Conflict, ValidationError
from kiln.executors import UNKNOWN_EXIT, Executor, ProcessHandle
from kiln.metadata import Database
from kiln.records import (
    CapacityUse,
    HostState,
    LogLine,
    MetricValue,
    Reservation,
    ReservationState,
    SecondaryStatus,
    TrainingJob,
    TrainingJobHost,
    TrainingJobStatus,
    utcnow,
)
from kiln.scheduler import Scheduler, resolve_scheduler
from kiln.services.host_launch import launch_hosts
from kiln.services.job_admission import OWNER_PREFIX, STARTING_MESSAGE, JobAdmission
from kiln.services.job_validation import validate_training_request
from kiln.services.model_merge import merge_model_parts
from kiln.services.status_filter import parse_status

__all__ = ["TrainingJobService"]

log = logging.getLogger("kiln.training_jobs")

FIRST_HOST = "algo-1"  # hosts are algo-1 … algo-N; the first speaks for the job (SageMaker's master)
KILL_MARGIN_SECONDS = 15.0  # after the grace period, how long before a stopped host is SIGKILLed


def _handle(host: TrainingJobHost) -> ProcessHandle:
    assert host.pid is not None
    return ProcessHandle(host.pid, host.pid_started_at or 0.0)


def _how_it_ended(code: int) -> str:
    if code == UNKNOWN_EXIT:
        return "died while the Kiln server was down or not watching it (its exit status is lost)"
    if code < 0:
        return f"was killed by signal {signal.Signals(-code).name}"
    return f"exited with code {code}"


@dataclass
class TrainingJobService:
    settings: Settings
    db: Database
    store: ArtifactStore
    executor: Executor
    server_url: str = ""
    # Told of every job that ends, right after its ending is stored (the supervisor wakes for it, so a
    # tuning job starts its next trial at once).
    on_job_ended: Callable[[TrainingJob], None] | None = None
    scheduler: Scheduler | None = None  # the server's; one is made from the settings when not given
    # The credential a job's hosts report with (scoped to that job; the server's Credentials makes it).
    host_credential: Callable[[str], str] | None = None

    def __post_init__(self) -> None:
        self.capacity: Scheduler = self.scheduler or resolve_scheduler(self.settings, self.db)
        self.admission = JobAdmission(self.db, self.capacity)
        self.capacity.on_admitted(self._on_admitted)
        self.recover()  # before the server answers anyone: nothing else starts jobs meanwhile

    # -- users' verbs ---------------------------------------------------------------------------------

    def create(self, request: dict[str, Any], *, use: CapacityUse | None = None) -> TrainingJob:
        """Validate, check the account limits (ResourceLimitExceeded at once), then start the job or
        leave it Pending until the scheduler admits it. ``use`` defaults to TUNING for a tuning job's
        trials (``TuningJobName`` set), else TRAINING."""
        add_metric_definitions(request)  # a built-in algorithm's metrics, as SageMaker declares them
        validate_training_request(
            request,
            self.store,
            self.capacity.instance_type,
            auth_enabled=self.settings.auth_enabled,
            archive_limits=ArchiveLimits.from_settings(self.settings),
        )
        if use is None:
            use = CapacityUse.TUNING if request.get("TuningJobName") else CapacityUse.TRAINING
        count = int(request.get("ResourceConfig", {}).get("InstanceCount", 1))
        hosts = [f"algo-{i}" for i in range(1, count + 1)]
        job, reservation = self.admission.submit(request, hosts, use)
        if reservation.state is not ReservationState.ACTIVE:
            return job  # Pending: as stored, nothing has happened to it yet
        self._start_admitted(job, reservation)
        return metadata.get_training_job(self.db, job.name)

    def describe(self, name: str) -> TrainingJob:
        return metadata.get_training_job(self.db, name)

    def list_jobs(
        self,
        *,
        status: str | None = None,
        name_contains: str | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[TrainingJob]:
        wanted = parse_status(TrainingJobStatus, status, "training job")
        return metadata.list_training_jobs(
            self.db, status=wanted, name_contains=name_contains, limit=limit, offset=offset
        )

    def stop(self, name: str) -> TrainingJob:
        job = metadata.get_training_job(self.db, name, details=False)
        if job.status.is_terminal():
            raise Conflict(
                f"Training job {name!r} has already ended ({job.status.value}); there is nothing to stop."
            )
        job = metadata.request_stop(self.db, name, utcnow())
        if self.admission.withdraw_if_waiting(name):
            self._end(job, SecondaryStatus.STOPPED, "Stopped while waiting for capacity", None)
            return metadata.get_training_job(self.db, name)
        metadata.record_transition(
            self.db, name, SecondaryStatus.STOPPING, "Stopping the training job", utcnow()
        )
        self._signal_hosts(job, signal.SIGTERM)
        return metadata.get_training_job(self.db, name)

    def logs(self, name: str, after_seq: int = 0, limit: int = 1000) -> list[LogLine]:
        return metadata.list_log_lines(self.db, name, after_seq=after_seq, limit=limit)

    def metrics(self, name: str, metric: str | None = None) -> list[MetricValue]:
        return metadata.list_metric_values(self.db, name, metric=metric)

    # -- what hosts report ----------------------------------------------------------------------------

    def host_events(
        self, name: str, host: str, batch: int, lines: Sequence[LogLine], metrics: Sequence[MetricValue]
    ) -> bool:
        return metadata.append_host_events(self.db, name, host, batch, lines, metrics, utcnow())

    def host_status(
        self, name: str, host: str, status: str, message: str, at: datetime | None = None
    ) -> None:
        """A host's progress (``at``: when it happened there; never later than now)."""
        try:
            secondary = SecondaryStatus(status)
        except ValueError:
            raise ValidationError(f"{status!r} is not a secondary status") from None
        if secondary.is_terminal():
            raise ValidationError("a host reports its ending through /finish, not /status")
        # The first host speaks for the job's progress; the others' progress is in their logs.
        if host == FIRST_HOST:
            now = utcnow()
            when = now if at is None else min(at, now)
            metadata.record_transition(
                self.db, name, secondary, message, when, unless_stopping=True, with_hosts=False
            )

    def host_finished(self, name: str, host: str, result: dict[str, Any]) -> TrainingJob:
        attempt = int(result["attempt"]) if "attempt" in result else None
        state = HostState(result.get("state", HostState.FAILED.value))
        job = metadata.update_host(
            self.db,
            name,
            host,
            attempt=attempt,  # a report from an attempt that was already restarted changes nothing
            state=state,
            exit_code=result.get("exit_code"),
            failure_reason=result.get("failure_reason"),
            last_heartbeat=utcnow(),
        )
        if attempt is not None and attempt != job.attempt:
            return job
        if job.status.is_terminal():
            self.admission.release_if_done(job)  # the last host of an ended job is gone
            return job
        if state is HostState.FAILED:
            reason = result.get("failure_reason") or f"host {host} failed"
            if len(job.hosts) > 1:
                reason = f"{host}: {reason}"
            return self._end(
                job, SecondaryStatus.FAILED, result.get("message", "Training job failed"), reason
            )
        model, output = None, None
        if host == FIRST_HOST and result.get("model_artifacts"):
            model, output = result.get("model_artifacts"), result.get("output_artifacts")
        if not all(h.state.is_terminal() for h in job.hosts):
            if model:  # the message stays; the job goes on until its last host ends
                job = metadata.record_transition(
                    self.db,
                    name,
                    job.secondary_status,
                    None,
                    utcnow(),
                    model_artifacts=model,
                    output_artifacts=output,
                )
            return job
        secondary = SecondaryStatus(result.get("secondary_status", "Completed"))
        if job.stop_requested_at is not None and secondary is SecondaryStatus.COMPLETED:
            secondary = SecondaryStatus.STOPPED
        merged = model or job.model_artifacts
        if len(job.hosts) > 1 and merged:
            merge_model_parts(self.store, merged.rsplit("/", 1)[0], [h.host for h in job.hosts])
        return self._end(
            job, secondary, result.get("message", ""), None, model_artifacts=model, output_artifacts=output
        )

    # -- lifecycle ------------------------------------------------------------------------------------

    def _on_admitted(self, reservation: Reservation) -> None:
        """The scheduler admitted a waiting reservation: start its job if it is one of ours."""
        if not reservation.owner.startswith(OWNER_PREFIX):
            return
        job = metadata.find_training_job(self.db, reservation.owner[len(OWNER_PREFIX) :], details=False)
        if job is not None:
            self._start_admitted(job, reservation)

    def _start_admitted(self, job: TrainingJob, reservation: Reservation) -> None:
        """Start the hosts of a job that now holds its capacity (unless it was stopped meanwhile)."""
        if job.status.is_terminal():
            self.admission.release_if_done(job)
            return
        if job.stop_requested_at is not None:
            self._end(job, SecondaryStatus.STOPPED, "Stopped before it started", None)
            return
        if job.secondary_status is SecondaryStatus.PENDING:
            job = metadata.record_transition(
                self.db, job.name, SecondaryStatus.STARTING, STARTING_MESSAGE, utcnow()
            )
        try:
            started = launch_hosts(
                self.settings,
                self.db,
                self.store,
                self.executor,
                self.server_url,
                job,
                reservation,
                credential=self.host_credential(job.name) if self.host_credential else None,
            )
        except Exception as e:  # the job cannot start: it fails with the reason, its capacity goes back
            log.exception("could not start the hosts of %s", job.name)
            reason = f"InternalServerError: could not start the job's hosts: {e}"
            self._end(
                metadata.get_training_job(self.db, job.name, details=False),
                SecondaryStatus.FAILED,
                "Training job failed",
                reason,
            )
            return
        if started.stop_requested_at is not None:  # a stop arrived while the hosts were starting
            self._signal_hosts(started, signal.SIGTERM)

    def _signal_hosts(self, job: TrainingJob, sig: signal.Signals) -> None:
        for host in job.hosts:
            if host.pid is not None and not host.state.is_terminal():
                self.executor.signal(_handle(host), sig)

    def _end(
        self,
        job: TrainingJob,
        status: SecondaryStatus,
        message: str,
        reason: str | None,
        *,
        model_artifacts: str | None = None,
        output_artifacts: str | None = None,
    ) -> TrainingJob:
        """End the job (the model_artifacts / output_artifacts of its last report stored with it)."""
        now = utcnow()
        ran = any(h.pid is not None for h in job.hosts) or job.attempt > 1
        billable = job.billable_seconds_at(now)
        ended = metadata.record_transition(
            self.db,
            job.name,
            status,
            message,
            now,
            failure_reason=reason,
            billable_seconds=max(1, billable) if ran else billable,  # a job stopped while Pending: 0
            model_artifacts=model_artifacts,
            output_artifacts=output_artifacts,
        )
        self._signal_hosts(ended, signal.SIGTERM)  # a failed host takes the others down with it
        self.admission.release_if_done(ended)  # admits waiting jobs at once if nothing is left running
        if self.on_job_ended is not None:
            self.on_job_ended(ended)
        return ended

    def _restart(self, job: TrainingJob, lost_host: str, how: str) -> None:
        """Stop what is left of the attempt and start the next one (secondary status Restarting)."""
        self._signal_hosts(job, signal.SIGKILL)
        for host in job.hosts:
            if host.pid is not None:
                metadata.update_host(self.db, job.name, host.host, state=HostState.STOPPED)
        job = metadata.start_attempt(self.db, job.name, utcnow())
        message = (
            f"Restarting the training job: host {lost_host} {how} "
            f"(attempt {job.attempt} of {job.max_retry_attempts + 1})"
        )
        restarting = metadata.record_transition(
            self.db, job.name, SecondaryStatus.RESTARTING, message, utcnow()
        )
        reservation = self.admission.reservation(job.name)
        if reservation is None or reservation.state is not ReservationState.ACTIVE:
            reason = "InternalServerError: the job holds no capacity to restart with"
            self._end(restarting, SecondaryStatus.FAILED, "Training job failed", reason)
            return
        self._start_admitted(restarting, reservation)

    # -- supervision ----------------------------------------------------------------------------------

    def recover(self) -> None:
        """Bring jobs and capacity back in step after a (re)start, then start what is admitted."""
        jobs = self.admission.reconcile()
        self.capacity.admit()
        for job in jobs:
            reservation = self.admission.reservation(job.name)
            launched = [h.pid is not None for h in job.hosts]
            if reservation is not None and reservation.state is ReservationState.ACTIVE and not any(launched):
                self._start_admitted(metadata.get_training_job(self.db, job.name, details=False), reservation)
            elif any(launched) and not all(launched) and job.stop_requested_at is None:
                # Stopped between two host starts: the started hosts would wait for the others forever.
                reason = "InternalServerError: the Kiln server stopped while it was starting this job's hosts"
                self._end(job, SecondaryStatus.FAILED, "Training job failed", reason)

    def supervise_once(self) -> None:
        """Handle hosts whose process vanished without a report, and kill what outlives a stop."""
        self.executor.reap()
        now = utcnow()
        for job in metadata.list_jobs_with_live_hosts(self.db):
            for host in job.hosts:
                if host.state.is_terminal() or host.pid is None:
                    continue
                code = self.executor.exit_code(_handle(host))
                if code is not None:
                    self._host_vanished(job, host, code)
                    break  # the job may have been restarted or ended: look again next pass
                ended_at = job.stop_requested_at or (
                    job.training_end_time if job.status.is_terminal() else None
                )
                if ended_at is not None:
                    overdue = (now - ended_at).total_seconds()
                    if overdue > self.settings.stop_grace_seconds + KILL_MARGIN_SECONDS:
                        self.executor.signal(_handle(host), signal.SIGKILL)

    def _host_vanished(self, job: TrainingJob, host: TrainingJobHost, code: int) -> None:
        # Whatever the host's runtime left in its process group (the user's script) goes too.
        self.executor.signal(_handle(host), signal.SIGKILL)
        # Read again: a stop may have been stored since this pass listed the job (and caused the exit).
        job = metadata.get_training_job(self.db, job.name, details=False)
        result_file = self.settings.jobs_dir / job.name / host.host / "result.json"
        if result_file.exists():  # it finished, but its report never arrived
            try:
                self.host_finished(job.name, host.host, json.loads(result_file.read_text()))
                return
            except ValueError:
                pass
        if job.status.is_terminal():
            metadata.update_host(self.db, job.name, host.host, state=HostState.STOPPED, exit_code=code)
            self.admission.release_if_done(metadata.get_training_job(self.db, job.name, details=False))
            return
        if job.stop_requested_at is not None:
            stopped = {
                "state": "Stopped",
                "secondary_status": "Stopped",
                "exit_code": code,
                "attempt": job.attempt,
            }
            self.host_finished(job.name, host.host, stopped)
            return
        how = _how_it_ended(code)
        if job.attempt <= job.max_retry_attempts:
            self._restart(job, host.host, how)
            return
        reason = f"InternalServerError: the process of host {host.host} {how} before reporting a result"
        self.host_finished(
            job.name,
            host.host,
            {"state": "Failed", "exit_code": code, "failure_reason": reason, "attempt": job.attempt},
        )
