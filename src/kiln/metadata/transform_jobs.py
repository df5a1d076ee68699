"""Queries on batch transform jobs. Verbs: get_ raises, find_ may return None, list_ returns a list;
writers return the fresh record."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select

from kiln.metadata.database import Database
from kiln.metadata.named import ResourceKind, ensure_unused, find_named, get_named
from kiln.metadata.tables import TransformJobRow
from kiln.records import JobStatus, TransformJob

__all__ = [
    "TRANSFORM_JOBS",
    "find_transform_job",
    "get_transform_job",
    "insert_transform_job",
    "list_transform_jobs",
    "update_transform_job",
]

TRANSFORM_JOBS = ResourceKind("transform job", "TransformJobName", "`kiln transform-jobs list`")

_UPDATABLE = {
    "status",
    "start_time",
    "end_time",
    "failure_reason",
    "stop_requested_at",
    "billable_seconds",
    "progress",
    "instance_handles",
}


def _to_record(row: TransformJobRow) -> TransformJob:
    return TransformJob(
        name=row.name,
        status=JobStatus(row.status),
        spec=row.spec,
        creation_time=row.creation_time,
        last_modified_time=row.last_modified_time,
        start_time=row.start_time,
        end_time=row.end_time,
        failure_reason=row.failure_reason,
        stop_requested_at=row.stop_requested_at,
        billable_seconds=row.billable_seconds,
        progress=dict(row.progress or {}),
        instance_handles=tuple(row.instance_handles or ()),
    )


def insert_transform_job(db: Database, name: str, spec: dict[str, Any], now: datetime) -> TransformJob:
    with db.session() as session:
        ensure_unused(session, TransformJobRow, TRANSFORM_JOBS, name)
        row = TransformJobRow(
            name=name,
            status=JobStatus.IN_PROGRESS.value,
            spec=spec,
            creation_time=now,
            last_modified_time=now,
            billable_seconds=0,
            progress={},
        )
        session.add(row)
        session.flush()
        return _to_record(row)


def find_transform_job(db: Database, name: str) -> TransformJob | None:
    with db.session() as session:
        row = find_named(session, TransformJobRow, name)
        return None if row is None else _to_record(row)


def get_transform_job(db: Database, name: str) -> TransformJob:
    with db.session() as session:
        return _to_record(get_named(session, TransformJobRow, TRANSFORM_JOBS, name))


def list_transform_jobs(
    db: Database,
    *,
    status: JobStatus | None = None,
    name_contains: str | None = None,
    limit: int = 100,
) -> list[TransformJob]:
    """Newest first."""
    with db.session() as session:
        query = select(TransformJobRow).order_by(TransformJobRow.id.desc()).limit(limit)
        if status is not None:
            query = query.where(TransformJobRow.status == status.value)
        if name_contains:
            query = query.where(TransformJobRow.name.contains(name_contains, autoescape=True))
        return [_to_record(row) for row in session.scalars(query)]


def update_transform_job(db: Database, name: str, now: datetime, **changes: Any) -> TransformJob:
    unknown = set(changes) - _UPDATABLE
    if unknown:
        raise TypeError(f"not transform job fields: {sorted(unknown)}")
    with db.session() as session:
        row = get_named(session, TransformJobRow, TRANSFORM_JOBS, name)
        for key, value in changes.items():
            if key == "status":
                value = value.value
            elif key == "instance_handles":
                value = list(value)
            setattr(row, key, value)
        row.last_modified_time = now
        session.flush()
        return _to_record(row)
