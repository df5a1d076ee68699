"""The host-job lifecycle that training and processing jobs share: submission, launch, what hosts
report, stop, restart, re-adoption after a server restart, and capacity (queue, limits, cost).

A host job is a job that runs ``kiln.runtime.training`` processes (hosts algo-1 … algo-N): a training
job or a processing job (``TrainingJob.kind``). The control plane is the only writer of job status.
Hosts report; this module decides what a report means for the job: a failed host fails the job
and stops the others; a host that vanished restarts the job while ``RetryStrategy`` allows; the last
host to finish ends it. Capacity comes from the scheduler (``job_admission``): a job within its
limits starts at once or waits Pending, and starts by itself when the scheduler admits it; its
capacity goes back once its processes are gone.

On a cluster, an admitted job may still find no room for its hosts together (free CPUs split across
nodes, a node that just left): it keeps its capacity and waits, Pending, and the supervisor tries to
place it again (``place_waiting``). A host lost with its node fails the job naming the node, or
restarts it on the nodes left while ``RetryStrategy`` allows.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from kiln import metadata
from kiln.artifacts import ArtifactStore
from kiln.config import Settings
from kiln.errors import Conflict, ValidationError
from kiln.executors import UNKNOWN_EXIT, Executor, GroupNotPlaced
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
    host_job_resources,
    utcnow,
)
from kiln.scheduler import Scheduler, resolve_scheduler
from kiln.services.host_launch import launch_hosts, launched_before
from kiln.services.job_admission import OWNER_PREFIX, STARTING_MESSAGE, JobAdmission
from kiln.services.model_merge import merge_model_parts

__all__ = ["HostJobService", "job_noun"]

log = logging.getLogger("kiln.host_jobs")

FIRST_HOST = "algo-1"  # hosts are algo-1 … algo-N; the first speaks for the job (SageMaker's master)
KILL_MARGIN_SECONDS = 15.0  # after the grace period, how long before a stopped host is SIGKILLed
CRASH_LOG_LINES = 3  # of a host's own output, in the reason of a host that died without a result
MAX_FAILURE_REASON = 1024  # SageMaker's FailureReason limit
# How often a job that holds its capacity but found no room for its hosts together is placed again:
# each try may wait the executor's placement timeout, in the supervisor's thread.
PLACEMENT_RETRY_SECONDS = 2.0
# A host of a multi-host job on a cluster that fails may have failed because a peer vanished with
# its node (a broken collective), before the cluster noticed the node is gone: Ray's health checks
# take ~15 s to declare a node that stopped answering dead. The job's failure waits this long for
# the lost node to be named (a restart, or a failure that names it) before it fails with the host's
# own reason.
NODE_LOSS_GRACE_SECONDS = 25.0
WAITING_FOR_ROOM = "Waiting for room on the cluster for every host together"


def _handle(host: TrainingJobHost) -> str:
    assert host.handle is not None
    return host.handle


def _between_attempts(job: TrainingJob) -> bool:
    """Restarted, and its new attempt not launched yet: every host is the previous attempt's, stopped."""
    return (
        job.attempt > 1
        and job.secondary_status in (SecondaryStatus.RESTARTING, SecondaryStatus.PENDING)
        and all(h.state is HostState.STOPPED for h in job.hosts)
    )


def job_noun(job: TrainingJob) -> str:
    """How messages name the job: "Training job" or "Processing job"."""
    return "Processing job" if job.kind == "processing" else "Training job"


def _how_it_ended(code: int) -> str:
    if code == UNKNOWN_EXIT:
        return "died while the Kiln server was down or not watching it (its exit status is lost)"
    if code < 0:
        return f"was killed by signal {signal.Signals(-code).name}"
    return f"exited with code {code}"


@dataclass
class HostJobService:
    """The lifecycle of host jobs of every kind: one instance per server, so one recovery pass, one
    admission callback and one supervisor serve training and processing jobs alike. Kind-specific
    services (``TrainingJobService``, ``ProcessingJobService``) validate requests and call
    :meth:`submit`."""

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
        # Jobs admitted whose hosts are not started: name → (when to place them, whether it is a
        # try after one that found no room, which keeps the job Pending).
        self._unplaced: dict[str, tuple[float, bool]] = {}
        self._waiting_lock = threading.Lock()  # guards _unplaced and _suspected
        self._restart_lock = threading.Lock()
        # Jobs whose host failed or vanished where a lost node may be the cause, not known yet:
        # name → (until when to wait for the node to be named, the attempt, what to do otherwise).
        self._suspected: dict[str, tuple[float, int, Callable[[TrainingJob], object]]] = {}
        self.recover()  # before the server answers anyone: nothing else starts jobs meanwhile

    # -- users' verbs, for every kind -------------------------------------------------------------------

    def submit(self, name: str, request: dict[str, Any], kind: str, use: CapacityUse) -> TrainingJob:
        """Check the account limits (ResourceLimitExceeded at once), store the job, then start it or
        leave it Pending until the scheduler admits it. ``request`` has been validated by its kind."""
        hosts = [f"algo-{i}" for i in range(1, int(host_job_resources(request).get("InstanceCount", 1)) + 1)]
        job, reservation = self.admission.submit(name, request, hosts, use, kind=kind)
        if reservation.state is not ReservationState.ACTIVE:
            return job  # Pending: as stored, nothing has happened to it yet
        self._start_admitted(job, reservation)
        return metadata.get_training_job(self.db, job.name)

    def stop_job(self, job: TrainingJob) -> TrainingJob:
        """Stop a job (its kind already checked by the caller): SIGTERM to its hosts, or out of the queue."""
        name = job.name
        if job.status.is_terminal():
            raise Conflict(
                f"{job_noun(job)} {name!r} has already ended ({job.status.value}); there is nothing to stop."
            )
        job = metadata.request_stop(self.db, name, utcnow())
        if self.admission.withdraw_if_waiting(name):
            self._end(job, SecondaryStatus.STOPPED, "Stopped while waiting for capacity", None)
            return metadata.get_training_job(self.db, name)
        if self._forget_unplaced(name):  # it holds capacity, but none of its hosts runs
            self._end(job, SecondaryStatus.STOPPED, "Stopped while waiting for room on the cluster", None)
            return metadata.get_training_job(self.db, name)
        metadata.record_transition(
            self.db, name, SecondaryStatus.STOPPING, f"Stopping the {job_noun(job).lower()}", utcnow()
        )
        self._stop_hosts(job)
        return metadata.get_training_job(self.db, name)

    def logs(self, name: str, after_seq: int = 0, limit: int = 1000) -> list[LogLine]:
        return metadata.list_log_lines(self.db, name, after_seq=after_seq, limit=limit)

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

    def host_finished(
        self, name: str, host: str, result: dict[str, Any], *, node_loss_ruled_out: bool = False
    ) -> TrainingJob:
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
        if result.get("exit_message"):  # a processing host's /opt/ml/output/message: every host's, joined
            text = str(result["exit_message"])
            job = metadata.record_transition(
                self.db,
                name,
                job.secondary_status,
                None,
                utcnow(),
                exit_message=f"{job.exit_message}\n{text}" if job.exit_message else text,
            )
        if job.status.is_terminal():
            self.admission.release_if_done(job)  # the last host of an ended job is gone
            return job
        if state is HostState.FAILED and self._lost_with_a_node(job, host):
            return metadata.get_training_job(self.db, name)  # restarted, or failed naming the node
        if state is HostState.FAILED:
            reason = result.get("failure_reason") or f"host {host} failed"
            if len(job.hosts) > 1:
                reason = f"{host}: {reason}"
            message = result.get("message", f"{job_noun(job)} failed")
            if self.executor.remote and len(job.hosts) > 1 and not node_loss_ruled_out:
                # Its peer may have died with its node, which the cluster has not noticed yet: the
                # job fails with this reason only once that is ruled out.
                self._suspect_node_loss(job.name, job.attempt, self._failing(message, reason))
                return job
            return self._end(job, SecondaryStatus.FAILED, message, reason)
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
        if len(job.hosts) > 1 and merged and job.kind == "training":
            merge_model_parts(self.store, merged.rsplit("/", 1)[0], [h.host for h in job.hosts])
        return self._end(
            job, secondary, result.get("message", ""), None, model_artifacts=model, output_artifacts=output
        )

    # -- lifecycle ------------------------------------------------------------------------------------

    def _on_admitted(self, reservation: Reservation) -> None:
        """The scheduler admitted a waiting reservation: start its job if it is one of ours."""
        if not reservation.owner.startswith(OWNER_PREFIX):
            return
        name = reservation.owner[len(OWNER_PREFIX) :]
        if self.executor.remote:
            # Placing on a cluster waits for Ray (up to its placement timeout): not in the thread that
            # gave the capacity back, often the request of a host's final report, whose host holds
            # its room on its node until that request is answered. The supervisor starts it.
            with self._waiting_lock:
                self._unplaced[name] = (time.monotonic(), False)
            return
        job = metadata.find_training_job(self.db, name, details=False)
        if job is not None:
            self._start_admitted(job, reservation)

    def _start_admitted(
        self, job: TrainingJob, reservation: Reservation, *, placing_again: bool = False
    ) -> None:
        """Start the hosts of a job that now holds its capacity (unless it was stopped meanwhile).

        ``placing_again``: it waited for room for its hosts; it stays Pending while it is placed, and
        is Starting only once they start (not Starting and back to Pending on every try)."""
        if job.status.is_terminal():
            self.admission.release_if_done(job)
            return
        if job.stop_requested_at is not None:
            self._end(job, SecondaryStatus.STOPPED, "Stopped before it started", None)
            return
        if job.secondary_status is SecondaryStatus.PENDING and not placing_again:
            job = metadata.record_transition(
                self.db, job.name, SecondaryStatus.STARTING, STARTING_MESSAGE, utcnow()
            )
        with self._waiting_lock:
            self._unplaced.pop(job.name, None)
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
                node_resources=self.capacity.instance_type(reservation.instance_type).node_resources,
            )
        except GroupNotPlaced as e:  # no room for every host together now: it waits, holding its capacity
            self._wait_for_room(job, str(e))
            return
        except Exception as e:  # the job cannot start: it fails with the reason, its capacity goes back
            log.exception("could not start the hosts of %s", job.name)
            reason = f"InternalServerError: could not start the job's hosts: {e}"
            self._end(
                metadata.get_training_job(self.db, job.name, details=False),
                SecondaryStatus.FAILED,
                f"{job_noun(job)} failed",
                reason,
            )
            return
        if started.secondary_status is SecondaryStatus.PENDING:
            metadata.record_transition(
                self.db, job.name, SecondaryStatus.STARTING, STARTING_MESSAGE, utcnow(), unless_stopping=True
            )
        if started.stop_requested_at is not None:  # a stop arrived while the hosts were starting
            self._stop_hosts(started)

    def _wait_for_room(self, job: TrainingJob, why: str) -> None:
        log.info("no room for the hosts of %s yet (%s); trying again", job.name, why)
        metadata.record_transition(
            self.db,
            job.name,
            SecondaryStatus.PENDING,
            f"{WAITING_FOR_ROOM}: {why}; trying again every {PLACEMENT_RETRY_SECONDS:g} s",
            utcnow(),
            unless_stopping=True,
        )
        with self._waiting_lock:
            self._unplaced[job.name] = (time.monotonic() + PLACEMENT_RETRY_SECONDS, True)

    def _forget_unplaced(self, name: str) -> bool:
        """Take a job out of those waiting for room; False if it was not waiting (its hosts may be
        starting right now, in another thread)."""
        with self._waiting_lock:
            return self._unplaced.pop(name, None) is not None

    def place_waiting(self) -> None:
        """Try again to start the hosts of admitted jobs that found no room for them together."""
        now = time.monotonic()
        with self._waiting_lock:
            due = [(name, again) for name, (at, again) in self._unplaced.items() if at <= now]
            for name, _ in due:
                del self._unplaced[name]
        for name, again in due:
            job = metadata.find_training_job(self.db, name, details=False)
            reservation = self.admission.reservation(name)
            if job is None or reservation is None or reservation.state is not ReservationState.ACTIVE:
                continue  # it ended (and gave its capacity back) meanwhile
            self._start_admitted(job, reservation, placing_again=again)

    def _stop_hosts(self, job: TrainingJob, *, force: bool = False) -> None:
        for host in job.hosts:
            if host.handle is not None and not host.state.is_terminal():
                self.executor.stop(host.handle, force=force)

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
        ran = any(h.handle is not None for h in job.hosts) or job.attempt > 1
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
        self._stop_hosts(ended)  # a failed host takes the others down with it
        self.admission.release_if_done(ended)  # admits waiting jobs at once if nothing is left running
        if self.on_job_ended is not None:
            self.on_job_ended(ended)
        return ended

    def _restart(self, job: TrainingJob, lost_host: str, how: str) -> None:
        """Stop what is left of the attempt and start the next one (secondary status Restarting)."""
        self._stop_hosts(job, force=True)
        for host in job.hosts:
            if host.handle is not None:
                metadata.update_host(self.db, job.name, host.host, state=HostState.STOPPED)
        job = metadata.start_attempt(self.db, job.name, utcnow())
        message = (
            f"Restarting the {job_noun(job).lower()}: host {lost_host} {how} "
            f"(attempt {job.attempt} of {job.max_retry_attempts + 1})"
        )
        restarting = metadata.record_transition(
            self.db, job.name, SecondaryStatus.RESTARTING, message, utcnow()
        )
        reservation = self.admission.reservation(job.name)
        if reservation is None or reservation.state is not ReservationState.ACTIVE:
            reason = "InternalServerError: the job holds no capacity to restart with"
            self._end(restarting, SecondaryStatus.FAILED, f"{job_noun(job)} failed", reason)
            return
        self._start_admitted(restarting, reservation)

    # -- supervision ----------------------------------------------------------------------------------

    def recover(self) -> None:
        """Bring jobs and capacity back in step after a (re)start, then start what is admitted."""
        jobs = self.admission.reconcile()
        self.capacity.admit()
        for job in jobs:
            reservation = self.admission.reservation(job.name)
            # A restarted job whose next attempt never launched (it waited for room on the cluster)
            # holds only the stopped handles of the attempt before.
            launched = [h.handle is not None and not _between_attempts(job) for h in job.hosts]
            if reservation is not None and reservation.state is ReservationState.ACTIVE and not any(launched):
                if not self._adopt_unrecorded_launch(job):
                    self._start_admitted(
                        metadata.get_training_job(self.db, job.name, details=False),
                        reservation,
                        # Admitted and Pending: it was waiting for room for its hosts.
                        placing_again=job.secondary_status is SecondaryStatus.PENDING,
                    )
            elif any(h.state is HostState.FAILED for h in job.hosts):
                # A host failed and the job's ending was not stored yet (it waited to rule out a
                # lost node, or the server stopped in between): it ends now, or once that is ruled out.
                failed = next(h for h in job.hosts if h.state is HostState.FAILED)
                reason = failed.failure_reason or f"host {failed.host} failed"
                reason = f"{failed.host}: {reason}" if len(job.hosts) > 1 else reason
                message = f"{job_noun(job)} failed"
                self._suspect_node_loss(
                    job.name,
                    job.attempt,
                    self._failing(message, reason),
                    NODE_LOSS_GRACE_SECONDS if self.executor.remote else 0.0,
                )
            elif any(launched) and not all(launched) and job.stop_requested_at is None:
                # Stopped between two host starts: the started hosts would wait for the others forever.
                reason = "InternalServerError: the Kiln server stopped while it was starting this job's hosts"
                self._end(job, SecondaryStatus.FAILED, f"{job_noun(job)} failed", reason)

    def _adopt_unrecorded_launch(self, job: TrainingJob) -> bool:
        """Adopt the hosts a killed server launched but never recorded; False if it launched none."""
        found = {h.host: launched_before(self.settings, self.executor, job, h.host) for h in job.hosts}
        if not any(found.values()):
            return False
        for host, seen in found.items():
            if seen is not None and seen.handle is not None:
                log.warning("re-adopting host %s of %s, launched before the restart", host, job.name)
                metadata.update_host(
                    self.db,
                    job.name,
                    host,
                    state=HostState.RUNNING,
                    handle=seen.handle,
                    last_heartbeat=utcnow(),
                )
        for host, seen in found.items():
            if seen is not None and seen.result is not None:
                self.host_finished(job.name, host, seen.result)
        if not all(found.values()):
            reason = "InternalServerError: the Kiln server stopped while it was starting this job's hosts"
            self._end(
                metadata.get_training_job(self.db, job.name, details=False),
                SecondaryStatus.FAILED,
                f"{job_noun(job)} failed",
                reason,
            )
        return True

    def supervise_once(self) -> None:
        """Handle hosts whose process vanished without a report, and kill what outlives a stop; place
        again the jobs that waited for room for their hosts."""
        self.place_waiting()
        self._settle_suspected_node_losses()
        now = utcnow()
        for job in metadata.list_jobs_with_live_hosts(self.db):
            for host in job.hosts:
                if host.state.is_terminal() or host.handle is None:
                    continue
                code = self.executor.poll(host.handle)
                if code is not None:
                    self._host_vanished(job, host, code)
                    break  # the job may have been restarted or ended: look again next pass
                ended_at = job.stop_requested_at or (
                    job.training_end_time if job.status.is_terminal() else None
                )
                if ended_at is not None:
                    overdue = (now - ended_at).total_seconds()
                    if overdue > self.settings.stop_grace_seconds + KILL_MARGIN_SECONDS:
                        self.executor.stop(host.handle, force=True)

    def _host_vanished(
        self, job: TrainingJob, host: TrainingJobHost, code: int, *, node_loss_ruled_out: bool = False
    ) -> None:
        # Whatever the host's runtime left in its process group (the user's script) goes too.
        self.executor.stop(_handle(host), force=True)
        # Read again: a stop may have been stored since this pass listed the job (and caused the exit).
        job = metadata.get_training_job(self.db, job.name, details=False)
        result = self.executor.read_result(_handle(host))
        if result is not None:  # it finished, but its report never arrived
            self.host_finished(job.name, host.host, result)
            return
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
        if self._lost_with_a_node(job, host.host):
            return
        if self.executor.remote and code == UNKNOWN_EXIT and not node_loss_ruled_out:
            # Its watcher on its node is gone: the node may be dying, unnoticed by the cluster yet.
            self._suspect_node_loss(
                job.name,
                job.attempt,
                lambda j: self._host_vanished(j, host, code, node_loss_ruled_out=True),
            )
            return
        how = _how_it_ended(code)
        if job.attempt <= job.max_retry_attempts:
            self._restart(job, host.host, how)
            return
        reason = f"InternalServerError: the process of host {host.host} {how} before reporting a result"
        # Its crash log, from the executor (the runtime's own output: a traceback if it crashed).
        output = [line.strip() for line in self.executor.read_log(_handle(host), max_bytes=4096).splitlines()]
        last = " | ".join([line for line in output if line][-CRASH_LOG_LINES:])
        if last:
            reason = f"{reason}; its last output: {last}"[:MAX_FAILURE_REASON]
        self.host_finished(
            job.name,
            host.host,
            {"state": "Failed", "exit_code": code, "failure_reason": reason, "attempt": job.attempt},
            node_loss_ruled_out=True,
        )

    def _lost_with_a_node(self, job: TrainingJob, reporting: str) -> bool:
        """Whether a host of the job was lost with its node (the executor says which); if so, the job
        restarts on the nodes left while its retries allow, or fails naming the node. A host that
        failed because a peer vanished (``reporting``: its distributed collective broke) is not the
        cause: the lost node is."""
        if job.status.is_terminal() or job.stop_requested_at is not None:
            return False
        lost = None
        for host in job.hosts:
            if host.handle is None or (host.state.is_terminal() and host.host != reporting):
                continue
            node = self.executor.lost_node(host.handle)
            if node is not None:
                lost = (host.host, node)
                break
        if lost is None:
            return False
        # The supervisor (a host vanished) and a request (a peer's failure report) may both get here.
        with self._restart_lock:
            now = metadata.get_training_job(self.db, job.name, details=False)
            if now.attempt != job.attempt or now.status.is_terminal() or now.stop_requested_at is not None:
                return True  # the other one restarted or ended it
            how = f"was lost with node {lost[1]}"
            if now.attempt <= now.max_retry_attempts:
                self._restart(now, lost[0], how)
                return True
            reason = (
                f"InternalServerError: host {lost[0]} {how} (the node left the cluster or died) "
                "before reporting a result"
            )
            self._end(now, SecondaryStatus.FAILED, f"{job_noun(now)} failed", reason)
        return True

    def _failing(self, message: str, reason: str) -> Callable[[TrainingJob], object]:
        """What fails a job with ``reason``, later (once a lost node is ruled out)."""
        return lambda job: self._end(job, SecondaryStatus.FAILED, message, reason)

    def _suspect_node_loss(
        self,
        name: str,
        attempt: int,
        otherwise: Callable[[TrainingJob], object],
        grace: float = NODE_LOSS_GRACE_SECONDS,
    ) -> None:
        """Wait up to ``grace`` seconds for a lost node to explain what happened to the job's
        ``attempt``, then do ``otherwise`` (the first suspicion's: the first failure is the reason)."""
        with self._waiting_lock:
            self._suspected.setdefault(name, (time.monotonic() + grace, attempt, otherwise))

    def _settle_suspected_node_losses(self) -> None:
        """A host lost with its node restarts (or fails) its job naming the node; past the grace
        period, what was suspected takes its ordinary course."""
        with self._waiting_lock:
            names = list(self._suspected)
        for name in names:
            with self._waiting_lock:
                entry = self._suspected.pop(name, None)
            if entry is None:
                continue
            deadline, attempt, otherwise = entry
            job = metadata.find_training_job(self.db, name, details=False)
            if job is None or job.attempt != attempt or job.status.is_terminal():
                continue  # restarted or ended meanwhile
            if self._lost_with_a_node(job, ""):
                continue
            if time.monotonic() >= deadline or job.stop_requested_at is not None:
                otherwise(job)
                continue
            with self._waiting_lock:
                self._suspected.setdefault(name, entry)
