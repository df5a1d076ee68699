"""Log lines and metric values of training jobs: appended by hosts, read by followers."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import CursorResult, insert, select, update
from sqlalchemy.orm import Session

from kiln.errors import NotFound
from kiln.metadata.database import Database
from kiln.metadata.tables import LogLineRow, MetricValueRow, TrainingJobHostRow, TrainingJobRow
from kiln.metadata.training_jobs import TRAINING_JOBS
from kiln.records import LogLine, MetricValue

__all__ = ["append_host_events", "list_log_lines", "list_metric_values"]


# Job names are unique and a job's id never changes: hosts report often, so ids are remembered.
_JOB_IDS: dict[tuple[str, str], int] = {}
_JOB_IDS_KEPT = 10_000


def _job_id(session: Session, name: str) -> int:
    key = (str(session.get_bind().engine.url), name)
    known = _JOB_IDS.get(key)
    if known is not None:
        return known
    job_id = session.scalar(select(TrainingJobRow.id).where(TrainingJobRow.name == name))
    if job_id is None:
        raise TRAINING_JOBS.not_found(name)
    if len(_JOB_IDS) >= _JOB_IDS_KEPT:
        _JOB_IDS.clear()
    _JOB_IDS[key] = int(job_id)
    return int(job_id)


def append_host_events(
    db: Database,
    name: str,
    host: str,
    batch: int,
    lines: Sequence[LogLine],
    metrics: Sequence[MetricValue],
    now: datetime,
) -> bool:
    """Store one batch of a host's lines and metrics; False when this batch was stored before.

    Hosts number their batches; a batch re-sent because its answer was lost (a server restart, a
    timeout) is recognised and skipped, so no line is stored twice and none is lost.
    """
    with db.session() as session:
        job_id = _job_id(session, name)
        the_host = (TrainingJobHostRow.job_id == job_id, TrainingJobHostRow.host == host)
        # Claim the batch in one conditional UPDATE: of two sends racing (a re-send while the first
        # is being stored) the database lets exactly one through, where a read-then-write let both.
        claimed = session.execute(
            update(TrainingJobHostRow)
            .where(*the_host, TrainingJobHostRow.last_batch < batch)
            .values(last_batch=batch, last_heartbeat=now)
        )
        if not cast("CursorResult[Any]", claimed).rowcount:
            touched = session.execute(update(TrainingJobHostRow).where(*the_host).values(last_heartbeat=now))
            if not cast("CursorResult[Any]", touched).rowcount:
                raise NotFound(f"Training job {name!r} has no host {host!r}.")
            return False
        if lines:
            session.execute(
                insert(LogLineRow),
                [
                    {
                        "job_id": job_id,
                        "host": host,
                        "stream": line.stream,
                        "timestamp": line.timestamp,
                        "message": line.message,
                    }
                    for line in lines
                ],
            )
        if metrics:
            session.execute(
                insert(MetricValueRow),
                [
                    {
                        "job_id": job_id,
                        "host": host,
                        "name": m.name,
                        "value": m.value,
                        "timestamp": m.timestamp,
                    }
                    for m in metrics
                ],
            )
        return True


def list_log_lines(
    db: Database,
    name: str,
    *,
    after_seq: int = 0,
    limit: int = 1000,
    host: str | None = None,
    before_seq: int | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    newest: bool = False,
) -> list[LogLine]:
    """Lines in order of ``seq``. ``host``/``since``/``until`` filter (times inclusive, ``until``
    exclusive); ``newest``: the last ``limit`` lines of the range rather than the first."""
    with db.session() as session:
        job_id = _job_id(session, name)
        query = select(LogLineRow).where(LogLineRow.job_id == job_id, LogLineRow.id > after_seq)
        if before_seq is not None:
            query = query.where(LogLineRow.id < before_seq)
        if host is not None:
            query = query.where(LogLineRow.host == host)
        if since is not None:
            query = query.where(LogLineRow.timestamp >= since)
        if until is not None:
            query = query.where(LogLineRow.timestamp < until)
        order = LogLineRow.id.desc() if newest else LogLineRow.id
        rows = list(session.scalars(query.order_by(order).limit(limit)))
        if newest:
            rows.reverse()
        return [LogLine(r.id, r.host, r.timestamp, r.message, r.stream) for r in rows]


def list_metric_values(db: Database, name: str, *, metric: str | None = None) -> list[MetricValue]:
    with db.session() as session:
        job_id = _job_id(session, name)
        query = select(MetricValueRow).where(MetricValueRow.job_id == job_id).order_by(MetricValueRow.id)
        if metric is not None:
            query = query.where(MetricValueRow.name == metric)
        return [MetricValue(r.name, r.value, r.timestamp, r.host) for r in session.scalars(query)]
