"""Training jobs as use-cases: create, describe, list, stop, and what hosts report while they run.

The control plane is the only writer of job status. Hosts report; this module decides what a report
means for the job (a failed host fails the job and stops the others; the last host to finish ends it).
"""

from __future__ import annotations

import json
import os
import signal
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kiln import metadata
from kiln.artifacts import ArtifactStore
from kiln.config import Settings
from kiln.errors import Conflict, ValidationError
from kiln.executors import Executor, ProcessHandle
from kiln.metadata import Database
from kiln.records import (
    HostState,
    LogLine,
    MetricValue,
    SecondaryStatus,
    TrainingJob,
    TrainingJobStatus,
    utcnow,
)
from kiln.runtime.training.spec import HostSpec
from kiln.scheduler import get_instance_type
from kiln.services.job_validation import validate_training_request

__all__ = ["TrainingJobService"]


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
        self._launch_hosts(job, attempt=1)
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
        for host in job.hosts:
            if host.pid is not None and not host.state.is_terminal():
                self.executor.signal(ProcessHandle(host.pid, host.pid_started_at or 0.0), signal.SIGTERM)
        return metadata.get_training_job(self.db, name)

    def logs(self, name: str, after_seq: int = 0, limit: int = 1000) -> list[LogLine]:
        return metadata.list_log_lines(self.db, name, after_seq=after_seq, limit=limit)

    def metrics(self, name: str, metric: str | None = None) -> list[MetricValue]:
        return metadata.list_metric_values(self.db, name, metric=metric)

    # -- launching ------------------------------------------------------------------------------------

    def host_dir(self, job_name: str, host: str) -> Path:
        return self.settings.jobs_dir / job_name / host

    def _launch_hosts(self, job: TrainingJob, attempt: int) -> None:
        instance = get_instance_type(job.instance_type)
        hosts = [h.host for h in job.hosts]
        for host in hosts:
            folder = self.host_dir(job.name, host)
            folder.mkdir(parents=True, exist_ok=True)
            spec = HostSpec(
                job_name=job.name,
                host=host,
                hosts=hosts,
                attempt=attempt,
                server_url=self.server_url,
                artifact_url=self.store.root_url,
                base_dir=str(folder / "opt" / "ml"),
                job=job.spec,
                stop_grace_seconds=self.settings.stop_grace_seconds,
                num_cpus=instance.vcpus,
                num_gpus=instance.gpus,
                environment={"KILN_VENVS_DIR": str(self.settings.venvs_dir)},
            )
            spec_path = folder / "host.json"
            spec.save(spec_path)
            (folder / "result.json").unlink(missing_ok=True)
            env = _runtime_environment(self.settings)
            handle = self.executor.launch(
                [sys.executable, "-m", "kiln.runtime.training", str(spec_path)],
                env=env,
                cwd=folder,
                log_path=folder / "runtime.log",
            )
            metadata.update_host(
                self.db,
                job.name,
                host,
                state=HostState.RUNNING,
                pid=handle.pid,
                pid_started_at=handle.started_at,
                exit_code=None,
                failure_reason=None,
                last_batch=0,
                last_heartbeat=utcnow(),
            )

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
        if host == job.hosts[0].host:
            model = result.get("model_artifacts")
            output = result.get("output_artifacts")
            job = metadata.record_transition(
                self.db,
                name,
                job.secondary_status,
                job.transitions[-1].message if job.transitions else "",
                utcnow(),
                model_artifacts=model,
                output_artifacts=output,
            )
        if all(h.state.is_terminal() for h in job.hosts):
            secondary = SecondaryStatus(result.get("secondary_status", "Completed"))
            if job.stop_requested_at is not None and secondary is SecondaryStatus.COMPLETED:
                secondary = SecondaryStatus.STOPPED
            return self._end(job, secondary, result.get("message", ""), None)
        return job

    def _end(
        self, job: TrainingJob, status: SecondaryStatus, message: str, reason: str | None
    ) -> TrainingJob:
        now = utcnow()
        start = job.training_start_time or now
        billable = max(1, int((now - start).total_seconds())) * job.instance_count
        ended = metadata.record_transition(
            self.db, job.name, status, message, now, failure_reason=reason, billable_seconds=billable
        )
        for host in ended.hosts:  # a failed host takes the others down with it: no process outlives its job
            if host.pid is not None and not host.state.is_terminal():
                self.executor.signal(ProcessHandle(host.pid, host.pid_started_at or 0.0), signal.SIGTERM)
        return ended

    # -- supervision ----------------------------------------------------------------------------------

    def supervise_once(self) -> None:
        """Fail hosts whose process vanished without a report, and kill what ignores a stop."""
        now = utcnow()
        for job in metadata.list_active_training_jobs(self.db):
            for host in job.hosts:
                if host.state.is_terminal() or host.pid is None:
                    continue
                handle = ProcessHandle(host.pid, host.pid_started_at or 0.0)
                code = self.executor.exit_code(handle)
                if code is None:
                    if job.stop_requested_at is not None:
                        overdue = (now - job.stop_requested_at).total_seconds()
                        if overdue > self.settings.stop_grace_seconds + 15:
                            self.executor.signal(handle, signal.SIGKILL)
                    continue
                self._host_vanished(job, host.host, code)

    def _host_vanished(self, job: TrainingJob, host: str, code: int) -> None:
        result_file = self.host_dir(job.name, host) / "result.json"
        if result_file.exists():  # it finished, but its report never arrived
            try:
                self.host_finished(job.name, host, json.loads(result_file.read_text()))
                return
            except ValueError:
                pass
        if job.stop_requested_at is not None:
            self.host_finished(
                job.name, host, {"state": "Stopped", "secondary_status": "Stopped", "exit_code": code}
            )
            return
        if code < 0 and code != -255:
            how = f"was killed by signal {signal.Signals(-code).name}"
        elif code == -255:
            how = "ended while the Kiln server was not running"
        else:
            how = f"exited with code {code}"
        reason = f"InternalServerError: the process of host {host} {how} before reporting a result"
        self.host_finished(
            job.name,
            host,
            {"state": "Failed", "exit_code": code, "failure_reason": reason, "secondary_status": "Failed"},
        )


def _runtime_environment(settings: Settings) -> dict[str, str]:
    env = dict(os.environ)
    env["KILN_HOME"] = str(settings.home)
    if settings.api_token:
        env["KILN_API_TOKEN"] = settings.api_token
    return env
