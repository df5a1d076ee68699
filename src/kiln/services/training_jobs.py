"""Training jobs as use-cases: create, describe, list, stop, and what hosts report while they run.

The control plane is the only writer of job status. Hosts report; this module decides what a report
means for the job: a failed host fails the job and stops the others; a host that vanished restarts
the job while ``RetryStrategy`` allows; the last host to finish ends it.
"""

from __future__ import annotations

import json
import signal
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from kiln import metadata
from kiln.artifacts import ArtifactStore
from kiln.config import Settings
from kiln.errors import Conflict, ValidationError
from kiln.executors import UNKNOWN_EXIT, Executor, ProcessHandle
from kiln.metadata import Database
from kiln.records import (
    HostState,
    LogLine,
    MetricValue,
    SecondaryStatus,
    TrainingJob,
    TrainingJobHost,
    TrainingJobStatus,
    utcnow,
)
from kiln.services.host_launch import launch_hosts
from kiln.services.job_validation import validate_training_request
from kiln.services.model_merge import merge_model_parts

__all__ = ["TrainingJobService"]

KILL_MARGIN_SECONDS = 15.0  # after the grace period, how long before a stopped host is SIGKILLed


def _handle(host: TrainingJobHost) -> ProcessHandle:
    assert host.pid is not None
    return ProcessHandle(host.pid, host.pid_started_at or 0.0)


def _how_it_ended(code: int) -> str:
    if code == UNKNOWN_EXIT:
        return "ended while the Kiln server was not watching it"
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

    # -- users' verbs ---------------------------------------------------------------------------------

    def create(self, request: dict[str, Any]) -> TrainingJob:
        validate_training_request(request, self.store)
        count = int(request.get("ResourceConfig", {}).get("InstanceCount", 1))
        hosts = [f"algo-{i}" for i in range(1, count + 1)]
        job = metadata.insert_training_job(
            self.db,
            request["TrainingJobName"],
            request,
            hosts,
            utcnow(),
            "Preparing the instances for training",
        )
        self._launch(job)
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
        try:
            wanted = TrainingJobStatus(status) if status else None
        except ValueError:
            choices = ", ".join(s.value for s in TrainingJobStatus)
            raise ValidationError(
                f"status {status!r} is not a training job status; use one of {choices}"
            ) from None
        return metadata.list_training_jobs(
            self.db, status=wanted, name_contains=name_contains, limit=limit, offset=offset
        )

    def stop(self, name: str) -> TrainingJob:
        job = metadata.get_training_job(self.db, name)
        if job.status.is_terminal():
            raise Conflict(
                f"Training job {name!r} has already ended ({job.status.value}); there is nothing to stop."
            )
        job = metadata.request_stop(self.db, name, utcnow())
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

    def host_status(self, name: str, host: str, status: str, message: str) -> None:
        try:
            secondary = SecondaryStatus(status)
        except ValueError:
            raise ValidationError(f"{status!r} is not a secondary status") from None
        if secondary.is_terminal():
            raise ValidationError("a host reports its ending through /finish, not /status")
        job = metadata.get_training_job(self.db, name)
        # The first host speaks for the job's progress; the others' progress is in their logs.
        if job.hosts and host == job.hosts[0].host and job.stop_requested_at is None:
            metadata.record_transition(self.db, name, secondary, message, utcnow())

    def host_finished(self, name: str, host: str, result: dict[str, Any]) -> TrainingJob:
        job = metadata.get_training_job(self.db, name)
        if int(result.get("attempt", job.attempt)) != job.attempt:
            return job  # a report from an attempt that was already restarted
        state = HostState(result.get("state", HostState.FAILED.value))
        metadata.update_host(
            self.db,
            name,
            host,
            state=state,
            exit_code=result.get("exit_code"),
            failure_reason=result.get("failure_reason"),
            last_heartbeat=utcnow(),
        )
        job = metadata.get_training_job(self.db, name)
        if job.status.is_terminal():
            return job
        if state is HostState.FAILED:
            reason = result.get("failure_reason") or f"host {host} failed"
            if len(job.hosts) > 1:
                reason = f"{host}: {reason}"
            return self._end(
                job, SecondaryStatus.FAILED, result.get("message", "Training job failed"), reason
            )
        if host == job.hosts[0].host and result.get("model_artifacts"):
            job = metadata.record_transition(
                self.db,
                name,
                job.secondary_status,
                job.transitions[-1].message if job.transitions else "",
                utcnow(),
                model_artifacts=result.get("model_artifacts"),
                output_artifacts=result.get("output_artifacts"),
            )
        if not all(h.state.is_terminal() for h in job.hosts):
            return job
        secondary = SecondaryStatus(result.get("secondary_status", "Completed"))
        if job.stop_requested_at is not None and secondary is SecondaryStatus.COMPLETED:
            secondary = SecondaryStatus.STOPPED
        if len(job.hosts) > 1 and job.model_artifacts:
            prefix = job.model_artifacts.rsplit("/", 1)[0]
            merge_model_parts(self.store, prefix, [h.host for h in job.hosts])
        return self._end(job, secondary, result.get("message", ""), None)

    # -- lifecycle ------------------------------------------------------------------------------------

    def _launch(self, job: TrainingJob) -> None:
        launch_hosts(self.settings, self.db, self.store, self.executor, self.server_url, job)

    def _signal_hosts(self, job: TrainingJob, sig: signal.Signals) -> None:
        for host in job.hosts:
            if host.pid is not None and not host.state.is_terminal():
                self.executor.signal(_handle(host), sig)

    def _end(
        self, job: TrainingJob, status: SecondaryStatus, message: str, reason: str | None
    ) -> TrainingJob:
        now = utcnow()
        ended = metadata.record_transition(
            self.db,
            job.name,
            status,
            message,
            now,
            failure_reason=reason,
            billable_seconds=max(1, job.billable_seconds_at(now)),
        )
        self._signal_hosts(ended, signal.SIGTERM)  # a failed host takes the others down with it
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
        metadata.record_transition(self.db, job.name, SecondaryStatus.RESTARTING, message, utcnow())
        self._launch(metadata.get_training_job(self.db, job.name))

    # -- supervision ----------------------------------------------------------------------------------

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
        result_file = self.settings.jobs_dir / job.name / host.host / "result.json"
        if result_file.exists():  # it finished, but its report never arrived
            try:
                self.host_finished(job.name, host.host, json.loads(result_file.read_text()))
                return
            except ValueError:
                pass
        if job.status.is_terminal():
            metadata.update_host(self.db, job.name, host.host, state=HostState.STOPPED, exit_code=code)
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
