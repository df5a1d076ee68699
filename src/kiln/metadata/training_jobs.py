"""Queries on training jobs, their transitions and their hosts. Verbs: get_ raises, find_ may return None,
list_ returns a list; writers return the fresh record."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from kiln.errors import NotFound
from kiln.metadata.database import Database
from kiln.metadata.named import ResourceKind, ensure_unused, find_named, get_named
from kiln.metadata.tables import (
    MetricValueRow,
    StatusTransitionRow,
    TrainingJobHostRow,
    TrainingJobRow,
)
from kiln.records import (
    HostState,
    MetricValue,
    SecondaryStatus,
    StatusTransition,
    TrainingJob,
    TrainingJobHost,
    TrainingJobStatus,
    host_job_resources,
)

__all__ = [
    "PROCESSING_JOBS",
    "TRAINING_JOBS",
    "count_training_jobs",
    "find_training_job",
    "get_training_job",
    "insert_training_job",
    "list_active_training_jobs",
    "list_jobs_with_live_hosts",
    "list_training_jobs",
    "record_transition",
    "request_stop",
    "start_attempt",
    "update_host",
]


TRAINING_JOBS = ResourceKind("training job", "TrainingJobName", "`kiln jobs list`")
# Processing jobs are host jobs too: rows of the same table with kind "processing" (one name space).
PROCESSING_JOBS = ResourceKind("processing job", "ProcessingJobName", "`kiln processing-jobs list`")


def _job_row(session: Session, name: str) -> TrainingJobRow:
    return get_named(session, TrainingJobRow, TRAINING_JOBS, name)


def _final_metrics(session: Session, job_id: int) -> tuple[MetricValue, ...]:
    latest = (
        select(func.max(MetricValueRow.id))
        .where(MetricValueRow.job_id == job_id)
        .group_by(MetricValueRow.name)
        .scalar_subquery()
    )
    rows = session.scalars(
        select(MetricValueRow).where(MetricValueRow.id.in_(latest)).order_by(MetricValueRow.name)
    )
    return tuple(MetricValue(r.name, r.value, r.timestamp, r.host) for r in rows)


def _to_record(session: Session, row: TrainingJobRow, *, full: bool, hosts_only: bool = False) -> TrainingJob:
    """The job's record: with ``full``, its transitions, hosts and final metrics; with ``hosts_only``,
    its hosts (what the control plane needs to act, at a fraction of the queries); else a summary."""
    transitions: tuple[StatusTransition, ...] = ()
    hosts: tuple[TrainingJobHost, ...] = ()
    metrics: tuple[MetricValue, ...] = ()
    if full:
        transitions = tuple(
            StatusTransition(SecondaryStatus(t.status), t.start_time, t.end_time, t.message)
            for t in session.scalars(
                select(StatusTransitionRow)
                .where(StatusTransitionRow.job_id == row.id)
                .order_by(StatusTransitionRow.id)
            )
        )
    if full or hosts_only:
        hosts = tuple(
            TrainingJobHost(
                h.host,
                HostState(h.state),
                h.handle,
                h.exit_code,
                h.failure_reason,
                h.last_heartbeat,
                h.node,
            )
            for h in session.scalars(
                select(TrainingJobHostRow)
                .where(TrainingJobHostRow.job_id == row.id)
                .order_by(TrainingJobHostRow.host)
            )
        )
    if full:
        metrics = _final_metrics(session, row.id)
    return TrainingJob(
        name=row.name,
        status=TrainingJobStatus(row.status),
        secondary_status=SecondaryStatus(row.secondary_status),
        spec=row.spec,
        creation_time=row.creation_time,
        last_modified_time=row.last_modified_time,
        training_start_time=row.training_start_time,
        training_end_time=row.training_end_time,
        failure_reason=row.failure_reason,
        model_artifacts=row.model_artifacts,
        output_artifacts=row.output_artifacts,
        stop_requested_at=row.stop_requested_at,
        billable_seconds=row.billable_seconds,
        attempt=row.attempt,
        attempt_start_time=row.attempt_start_time,
        transitions=transitions,
        final_metrics=metrics,
        hosts=hosts,
        priority=row.priority or 0,
        price_per_hour=row.price_per_hour,
        capacity_warnings=tuple(row.capacity_warnings or ()),
        kind=row.kind or "training",
        exit_message=row.exit_message,
    )


def insert_training_job(
    db: Database,
    name: str,
    spec: dict[str, Any],
    hosts: Sequence[str],
    now: datetime,
    message: str,
    *,
    secondary: SecondaryStatus = SecondaryStatus.STARTING,
    priority: int = 0,
    price_per_hour: float | None = None,
    capacity_warnings: Sequence[str] = (),
    kind: str = "training",
) -> TrainingJob:
    """A new job in ``secondary`` status (Starting, or Pending while it waits for capacity);
    ``kind``: "training" or "processing"."""
    with db.session() as session:
        names = PROCESSING_JOBS if kind == "processing" else TRAINING_JOBS
        ensure_unused(session, TrainingJobRow, names, name)
        row = TrainingJobRow(
            name=name,
            status=TrainingJobStatus.IN_PROGRESS.value,
            secondary_status=secondary.value,
            spec=spec,
            creation_time=now,
            last_modified_time=now,
            billable_seconds=0,
            attempt=1,
            priority=priority,
            price_per_hour=price_per_hour,
            capacity_warnings=list(capacity_warnings),
            kind=kind,
        )
        session.add(row)
        session.flush()
        session.add(
            StatusTransitionRow(job_id=row.id, status=secondary.value, start_time=now, message=message)
        )
        for host in hosts:
            session.add(
                TrainingJobHostRow(job_id=row.id, host=host, state=HostState.LAUNCHING.value, last_batch=0)
            )
        session.flush()
        # Everything a new job has: its hosts and its one transition (no metrics yet).
        transition = StatusTransition(secondary, now, None, message)
        return replace(_to_record(session, row, full=False, hosts_only=True), transitions=(transition,))


def find_training_job(db: Database, name: str, *, details: bool = True) -> TrainingJob | None:
    """The job, or None; without ``details`` only its hosts, not its transitions and final metrics."""
    with db.session() as session:
        row = find_named(session, TrainingJobRow, name)
        return None if row is None else _to_record(session, row, full=details, hosts_only=True)


def get_training_job(db: Database, name: str, *, details: bool = True) -> TrainingJob:
    """The job (NotFound if none); without ``details`` only its hosts, not transitions and metrics."""
    with db.session() as session:
        return _to_record(session, _job_row(session, name), full=details, hosts_only=True)


def list_training_jobs(
    db: Database,
    *,
    status: TrainingJobStatus | None = None,
    name_contains: str | None = None,
    limit: int = 100,
    offset: int = 0,
    created_since: datetime | None = None,
    kind: str = "training",
) -> list[TrainingJob]:
    """Newest first; summaries only (no transitions, hosts or metrics) so long lists stay fast."""
    query = (
        select(TrainingJobRow)
        .where(TrainingJobRow.kind == kind)
        .order_by(TrainingJobRow.creation_time.desc(), TrainingJobRow.id.desc())
    )
    if status is not None:
        query = query.where(TrainingJobRow.status == status.value)
    if created_since is not None:
        query = query.where(TrainingJobRow.creation_time >= created_since)
    if name_contains:
        query = query.where(TrainingJobRow.name.contains(name_contains, autoescape=True))
    with db.session() as session:
        rows = session.scalars(query.limit(limit).offset(offset))
        return [_to_record(session, r, full=False) for r in rows]


def count_training_jobs(
    db: Database, *, status: TrainingJobStatus | None = None, kind: str = "training"
) -> int:
    query = select(func.count(TrainingJobRow.id)).where(TrainingJobRow.kind == kind)
    if status is not None:
        query = query.where(TrainingJobRow.status == status.value)
    with db.session() as session:
        return int(session.scalar(query) or 0)


def list_active_training_jobs(db: Database) -> list[TrainingJob]:
    terminal = [s.value for s in TrainingJobStatus if s.is_terminal()]
    with db.session() as session:
        rows = session.scalars(
            select(TrainingJobRow).where(TrainingJobRow.status.not_in(terminal)).order_by(TrainingJobRow.id)
        )
        return [_to_record(session, r, full=False, hosts_only=True) for r in rows]


def record_transition(
    db: Database,
    name: str,
    status: SecondaryStatus,
    message: str | None,
    now: datetime,
    *,
    failure_reason: str | None = None,
    model_artifacts: str | None = None,
    output_artifacts: str | None = None,
    billable_seconds: int | None = None,
    exit_message: str | None = None,
    unless_stopping: bool = False,
    with_hosts: bool = True,
) -> TrainingJob:
    """Move a job to a new secondary status (and the primary status that goes with it); returns the
    job with its hosts (``with_hosts=False``: without, one query fewer). ``message`` None keeps the
    current one when the status does not change.

    A job that already ended keeps its ending: late reports from a host never reopen it; with
    ``unless_stopping`` (a host's progress) neither does a job being stopped.
    """
    with db.session() as session:
        row = _job_row(session, name)
        if TrainingJobStatus(row.status).is_terminal() or (unless_stopping and row.stop_requested_at):
            return _to_record(session, row, full=False, hosts_only=with_hosts)
        current = session.scalars(
            select(StatusTransitionRow)
            .where(StatusTransitionRow.job_id == row.id)
            .order_by(StatusTransitionRow.id.desc())
            .limit(1)
        ).one_or_none()
        if current is not None and now < current.start_time:
            now = current.start_time  # a host's clock behind ours never reorders the transitions
        if current is not None and current.status == status.value and current.end_time is None:
            current.message = current.message if message is None else message
        else:
            if current is not None and current.end_time is None:
                current.end_time = now
            session.add(
                StatusTransitionRow(
                    job_id=row.id,
                    status=status.value,
                    start_time=now,
                    end_time=now if status.is_terminal() else None,
                    message=message or "",
                )
            )
        primary = status.primary()
        if row.status == TrainingJobStatus.STOPPING.value and primary is TrainingJobStatus.IN_PROGRESS:
            primary = TrainingJobStatus.STOPPING  # a stop in progress is not undone by a host report
        row.status = primary.value
        row.secondary_status = status.value
        row.last_modified_time = now
        if status is SecondaryStatus.TRAINING:
            if row.training_start_time is None:
                row.training_start_time = now
            if row.attempt_start_time is None:
                row.attempt_start_time = now
        if status.is_terminal():
            row.training_end_time = now
            if row.training_start_time is None:
                row.training_start_time = now
        if failure_reason is not None:
            row.failure_reason = failure_reason[:1024]
        if model_artifacts is not None:
            row.model_artifacts = model_artifacts
        if output_artifacts is not None:
            row.output_artifacts = output_artifacts
        if billable_seconds is not None:
            row.billable_seconds = billable_seconds
        if exit_message is not None:
            row.exit_message = exit_message[:1024]
        session.flush()
        return _to_record(session, row, full=False, hosts_only=with_hosts)


def start_attempt(db: Database, name: str, now: datetime) -> TrainingJob:
    """Close the running attempt (its seconds become billable) and number the next one."""
    with db.session() as session:
        row = _job_row(session, name)
        if row.attempt_start_time is not None:
            count = int(host_job_resources(row.spec).get("InstanceCount", 1))
            row.billable_seconds += max(1, int((now - row.attempt_start_time).total_seconds())) * count
        row.attempt += 1
        row.attempt_start_time = None
        row.last_modified_time = now
        session.flush()
        return _to_record(session, row, full=False, hosts_only=True)


def list_jobs_with_live_hosts(db: Database) -> list[TrainingJob]:
    """Jobs that still have a host process the control plane believes to be running (ended jobs
    included); hosts of a job waiting for capacity have no process yet and are not listed."""
    live = [HostState.LAUNCHING.value, HostState.RUNNING.value]
    with db.session() as session:
        ids = (
            select(TrainingJobHostRow.job_id)
            .where(TrainingJobHostRow.state.in_(live), TrainingJobHostRow.handle.is_not(None))
            .distinct()
        )
        rows = session.scalars(
            select(TrainingJobRow).where(TrainingJobRow.id.in_(ids)).order_by(TrainingJobRow.id)
        )
        return [_to_record(session, r, full=False, hosts_only=True) for r in rows]


def request_stop(db: Database, name: str, now: datetime) -> TrainingJob:
    with db.session() as session:
        row = _job_row(session, name)
        if not TrainingJobStatus(row.status).is_terminal() and row.stop_requested_at is None:
            row.stop_requested_at = now
            row.status = TrainingJobStatus.STOPPING.value
            row.last_modified_time = now
        session.flush()
        return _to_record(session, row, full=False, hosts_only=True)


def update_host(
    db: Database, name: str, host: str, *, attempt: int | None = None, **fields: Any
) -> TrainingJob:
    """Set fields of one host row (state, handle, exit_code, failure_reason, last_heartbeat);
    returns the job with its hosts as they are now. With ``attempt``, only while that attempt runs."""
    with db.session() as session:
        row = _job_row(session, name)
        if attempt is not None and attempt != row.attempt:
            return _to_record(session, row, full=False, hosts_only=True)
        host_row = session.scalars(
            select(TrainingJobHostRow).where(
                TrainingJobHostRow.job_id == row.id, TrainingJobHostRow.host == host
            )
        ).one_or_none()
        if host_row is None:
            raise NotFound(f"Training job {name!r} has no host {host!r}.")
        for key, value in fields.items():
            if isinstance(value, HostState):
                value = value.value
            setattr(host_row, key, value)
        session.flush()
        return _to_record(session, row, full=False, hosts_only=True)
