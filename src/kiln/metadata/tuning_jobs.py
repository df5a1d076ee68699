"""Queries on hyperparameter tuning jobs and their trials. Verbs: get_ raises, find_ may return None,
list_ returns a list; writers return the fresh record."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from kiln.errors import NotFound
from kiln.metadata.database import Database
from kiln.metadata.named import ResourceKind, ensure_unused, find_named, get_named
from kiln.metadata.tables import TrainingJobRow, TuningJobRow, TuningTrialRow
from kiln.records import ObjectiveStatus, TrainingJobStatus, TuningJob, TuningJobStatus, TuningTrial

__all__ = [
    "TUNING_JOBS",
    "end_tuning_job",
    "find_tuning_job",
    "get_tuning_job",
    "insert_trial",
    "insert_tuning_job",
    "list_active_tuning_jobs",
    "list_trials",
    "list_tuning_jobs",
    "request_tuning_stop",
    "tuning_job_id",
    "update_trial",
]


TUNING_JOBS = ResourceKind("hyperparameter tuning job", "HyperParameterTuningJobName", "`kiln tuning list`")


def _row(session: Session, name: str) -> TuningJobRow:
    return get_named(session, TuningJobRow, TUNING_JOBS, name)


def _to_record(row: TuningJobRow) -> TuningJob:
    return TuningJob(
        name=row.name,
        status=TuningJobStatus(row.status),
        config=row.config,
        random_seed=row.random_seed,
        creation_time=row.creation_time,
        last_modified_time=row.last_modified_time,
        end_time=row.end_time,
        failure_reason=row.failure_reason,
        stop_requested_at=row.stop_requested_at,
    )


def _trial_record(tuning_name: str, row: TuningTrialRow, job: TrainingJobRow | None) -> TuningTrial:
    return TuningTrial(
        tuning_job_name=tuning_name,
        number=row.number,
        training_job_name=row.training_job_name,
        tuned_hyperparameters=dict(row.parameters),
        objective_status=ObjectiveStatus(row.objective_status),
        creation_time=row.creation_time,
        objective_value=row.objective_value,
        early_stopped=row.early_stopped,
        failure_reason=row.failure_reason or (job.failure_reason if job is not None else None),
        training_status=TrainingJobStatus(job.status) if job is not None else None,
        training_start_time=job.training_start_time if job is not None else None,
        training_end_time=job.training_end_time if job is not None else None,
    )


def tuning_job_id(db: Database, name: str) -> int:
    with db.session() as session:
        return _row(session, name).id


def insert_tuning_job(
    db: Database, name: str, config: dict[str, Any], random_seed: int, now: datetime
) -> TuningJob:
    with db.session() as session:
        ensure_unused(session, TuningJobRow, TUNING_JOBS, name)
        row = TuningJobRow(
            name=name,
            status=TuningJobStatus.IN_PROGRESS.value,
            config=config,
            random_seed=random_seed,
            creation_time=now,
            last_modified_time=now,
        )
        session.add(row)
        session.flush()
        return _to_record(row)


def find_tuning_job(db: Database, name: str) -> TuningJob | None:
    with db.session() as session:
        row = find_named(session, TuningJobRow, name)
        return None if row is None else _to_record(row)


def get_tuning_job(db: Database, name: str) -> TuningJob:
    with db.session() as session:
        return _to_record(_row(session, name))


def list_tuning_jobs(
    db: Database,
    *,
    status: TuningJobStatus | None = None,
    name_contains: str | None = None,
    limit: int = 100,
    offset: int = 0,
) -> list[TuningJob]:
    """Newest first."""
    query = select(TuningJobRow).order_by(TuningJobRow.creation_time.desc(), TuningJobRow.id.desc())
    if status is not None:
        query = query.where(TuningJobRow.status == status.value)
    if name_contains:
        query = query.where(TuningJobRow.name.contains(name_contains, autoescape=True))
    with db.session() as session:
        return [_to_record(r) for r in session.scalars(query.limit(limit).offset(offset))]


def list_active_tuning_jobs(db: Database) -> list[TuningJob]:
    terminal = [s.value for s in TuningJobStatus if s.is_terminal()]
    with db.session() as session:
        rows = session.scalars(
            select(TuningJobRow).where(TuningJobRow.status.not_in(terminal)).order_by(TuningJobRow.id)
        )
        return [_to_record(r) for r in rows]


def request_tuning_stop(db: Database, name: str, now: datetime) -> TuningJob:
    with db.session() as session:
        row = _row(session, name)
        if not TuningJobStatus(row.status).is_terminal() and row.stop_requested_at is None:
            row.stop_requested_at = now
            row.status = TuningJobStatus.STOPPING.value
            row.last_modified_time = now
        session.flush()
        return _to_record(row)


def end_tuning_job(
    db: Database, name: str, status: TuningJobStatus, now: datetime, failure_reason: str | None = None
) -> TuningJob:
    """Give the job its ending; a job that already ended keeps its own."""
    with db.session() as session:
        row = _row(session, name)
        if not TuningJobStatus(row.status).is_terminal():
            row.status = status.value
            row.end_time = now
            row.last_modified_time = now
            if failure_reason is not None:
                row.failure_reason = failure_reason[:1024]
        session.flush()
        return _to_record(row)


def insert_trial(
    db: Database,
    tuning_name: str,
    number: int,
    training_job_name: str,
    tuned: dict[str, str],
    now: datetime,
) -> TuningTrial:
    with db.session() as session:
        row = TuningTrialRow(
            tuning_job_id=_row(session, tuning_name).id,
            number=number,
            training_job_name=training_job_name,
            parameters=tuned,
            objective_status=ObjectiveStatus.PENDING.value,
            early_stopped=False,
            creation_time=now,
        )
        session.add(row)
        session.flush()
        return _trial_record(tuning_name, row, None)


def update_trial(
    db: Database,
    training_job_name: str,
    *,
    objective_status: ObjectiveStatus | None = None,
    objective_value: float | None = None,
    early_stopped: bool | None = None,
    failure_reason: str | None = None,
) -> None:
    with db.session() as session:
        row = session.scalars(
            select(TuningTrialRow).where(TuningTrialRow.training_job_name == training_job_name)
        ).one_or_none()
        if row is None:
            raise NotFound(f"Training job {training_job_name!r} is not a trial of any tuning job.")
        if objective_status is not None:
            row.objective_status = objective_status.value
        if objective_value is not None:
            row.objective_value = objective_value
        if early_stopped is not None:
            row.early_stopped = early_stopped
        if failure_reason is not None:
            row.failure_reason = failure_reason[:1024]


def list_trials(db: Database, tuning_name: str) -> list[TuningTrial]:
    """Every trial of the job in start order, with its training job's status and times."""
    with db.session() as session:
        job_id = _row(session, tuning_name).id
        rows = session.execute(
            select(TuningTrialRow, TrainingJobRow)
            .outerjoin(TrainingJobRow, TrainingJobRow.name == TuningTrialRow.training_job_name)
            .where(TuningTrialRow.tuning_job_id == job_id)
            .order_by(TuningTrialRow.number)
        )
        return [_trial_record(tuning_name, trial, job) for trial, job in rows.tuples()]
