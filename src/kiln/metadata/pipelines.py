"""Queries on pipelines, their executions and the executions' steps. Verbs: get_ raises, find_ may
return None, list_ returns a list; writers return the fresh record."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from kiln.errors import NotFound
from kiln.metadata.database import Database
from kiln.metadata.named import ResourceKind, ensure_unused, get_named, list_named
from kiln.metadata.tables import PipelineExecutionRow, PipelineRow, PipelineStepRow
from kiln.records import (
    Pipeline,
    PipelineExecution,
    PipelineExecutionStatus,
    PipelineStep,
    PipelineStepStatus,
)

__all__ = [
    "PIPELINES",
    "delete_pipeline",
    "end_execution",
    "find_cached_step",
    "get_execution",
    "get_pipeline",
    "insert_execution",
    "insert_pipeline",
    "insert_step",
    "list_active_executions",
    "list_executions",
    "list_pipelines",
    "list_steps",
    "request_execution_stop",
    "update_pipeline",
    "update_step",
]

PIPELINES = ResourceKind("pipeline", "PipelineName", "`kiln pipelines list`")
_UNSET: Any = object()


def _pipeline(row: PipelineRow) -> Pipeline:
    return Pipeline(
        name=row.name,
        definition=row.definition,
        role_arn=row.role_arn,
        display_name=row.display_name,
        description=row.description,
        max_parallel_steps=row.max_parallel_steps,
        creation_time=row.creation_time,
        last_modified_time=row.last_modified_time,
    )


def _execution(row: PipelineExecutionRow) -> PipelineExecution:
    return PipelineExecution(
        execution_id=row.execution_id,
        pipeline_name=row.pipeline_name,
        status=PipelineExecutionStatus(row.status),
        definition=row.definition,
        parameters=dict(row.parameters),
        display_name=row.display_name,
        description=row.description,
        max_parallel_steps=row.max_parallel_steps,
        failure_reason=row.failure_reason,
        creation_time=row.creation_time,
        last_modified_time=row.last_modified_time,
        stop_requested_at=row.stop_requested_at,
    )


def _step(row: PipelineStepRow) -> PipelineStep:
    return PipelineStep(
        execution_id=row.execution_id,
        pipeline_name=row.pipeline_name,
        step_name=row.step_name,
        step_type=row.step_type,
        status=PipelineStepStatus(row.status),
        job_name=row.job_name,
        arguments=row.arguments,
        cache_key=row.cache_key,
        cache_source_execution=row.cache_source_execution,
        outcome=row.outcome,
        attempt_count=row.attempt_count,
        retry_at=row.retry_at,
        failure_reason=row.failure_reason,
        start_time=row.start_time,
        end_time=row.end_time,
    )


# -- pipelines --------------------------------------------------------------------------------------


def insert_pipeline(
    db: Database,
    name: str,
    definition: dict[str, Any],
    *,
    role_arn: str | None,
    display_name: str | None,
    description: str | None,
    max_parallel_steps: int | None,
    now: datetime,
) -> Pipeline:
    with db.session() as session:
        ensure_unused(session, PipelineRow, PIPELINES, name)
        row = PipelineRow(
            name=name,
            definition=definition,
            role_arn=role_arn,
            display_name=display_name,
            description=description,
            max_parallel_steps=max_parallel_steps,
            creation_time=now,
            last_modified_time=now,
        )
        session.add(row)
        session.flush()
        return _pipeline(row)


def update_pipeline(
    db: Database,
    name: str,
    now: datetime,
    *,
    definition: dict[str, Any] | None = None,
    role_arn: str | None = None,
    display_name: str | None = None,
    description: str | None = None,
    max_parallel_steps: int | None = None,
) -> Pipeline:
    """Change the fields given (None keeps a field as it is)."""
    with db.session() as session:
        row = get_named(session, PipelineRow, PIPELINES, name)
        if definition is not None:
            row.definition = definition
        if role_arn is not None:
            row.role_arn = role_arn
        if display_name is not None:
            row.display_name = display_name
        if description is not None:
            row.description = description
        if max_parallel_steps is not None:
            row.max_parallel_steps = max_parallel_steps
        row.last_modified_time = now
        return _pipeline(row)


def get_pipeline(db: Database, name: str) -> Pipeline:
    with db.session() as session:
        return _pipeline(get_named(session, PipelineRow, PIPELINES, name))


def list_pipelines(db: Database, *, limit: int = 100, offset: int = 0) -> list[Pipeline]:
    with db.session() as session:
        return [_pipeline(row) for row in list_named(session, PipelineRow, limit=limit, offset=offset)]


def delete_pipeline(db: Database, name: str) -> Pipeline:
    """The pipeline's executions and their steps go with it (their jobs stay)."""
    with db.session() as session:
        row = get_named(session, PipelineRow, PIPELINES, name)
        deleted = _pipeline(row)
        for step in session.scalars(select(PipelineStepRow).where(PipelineStepRow.pipeline_name == name)):
            session.delete(step)
        for execution in session.scalars(
            select(PipelineExecutionRow).where(PipelineExecutionRow.pipeline_name == name)
        ):
            session.delete(execution)
        session.delete(row)
        return deleted


# -- executions -------------------------------------------------------------------------------------


def _execution_row(session: Session, execution_id: str) -> PipelineExecutionRow:
    row = session.scalars(
        select(PipelineExecutionRow).where(PipelineExecutionRow.execution_id == execution_id)
    ).one_or_none()
    if row is None:
        raise NotFound(
            f"Could not find pipeline execution {execution_id!r}; `kiln pipelines executions NAME` "
            "shows a pipeline's executions."
        )
    return row


def insert_execution(
    db: Database,
    execution_id: str,
    pipeline: Pipeline,
    parameters: dict[str, Any],
    *,
    display_name: str | None,
    description: str | None,
    max_parallel_steps: int | None,
    now: datetime,
) -> PipelineExecution:
    with db.session() as session:
        row = PipelineExecutionRow(
            execution_id=execution_id,
            pipeline_name=pipeline.name,
            status=PipelineExecutionStatus.EXECUTING.value,
            definition=pipeline.definition,
            parameters=parameters,
            display_name=display_name,
            description=description,
            max_parallel_steps=max_parallel_steps or pipeline.max_parallel_steps,
            creation_time=now,
            last_modified_time=now,
        )
        session.add(row)
        session.flush()
        return _execution(row)


def get_execution(db: Database, execution_id: str) -> PipelineExecution:
    with db.session() as session:
        return _execution(_execution_row(session, execution_id))


def list_executions(db: Database, pipeline_name: str) -> list[PipelineExecution]:
    """Newest first."""
    with db.session() as session:
        get_named(session, PipelineRow, PIPELINES, pipeline_name)
        rows = session.scalars(
            select(PipelineExecutionRow)
            .where(PipelineExecutionRow.pipeline_name == pipeline_name)
            .order_by(PipelineExecutionRow.id.desc())
        )
        return [_execution(row) for row in rows]


def list_active_executions(db: Database) -> list[PipelineExecution]:
    ended = [s.value for s in PipelineExecutionStatus if s.is_terminal()]
    with db.session() as session:
        rows = session.scalars(
            select(PipelineExecutionRow)
            .where(PipelineExecutionRow.status.not_in(ended))
            .order_by(PipelineExecutionRow.id)
        )
        return [_execution(row) for row in rows]


def request_execution_stop(db: Database, execution_id: str, now: datetime) -> PipelineExecution:
    with db.session() as session:
        row = _execution_row(session, execution_id)
        if not PipelineExecutionStatus(row.status).is_terminal():
            row.status = PipelineExecutionStatus.STOPPING.value
            row.stop_requested_at = row.stop_requested_at or now
            row.last_modified_time = now
        return _execution(row)


def end_execution(
    db: Database, execution_id: str, status: PipelineExecutionStatus, reason: str | None, now: datetime
) -> PipelineExecution:
    with db.session() as session:
        row = _execution_row(session, execution_id)
        row.status = status.value
        row.failure_reason = reason
        row.last_modified_time = now
        return _execution(row)


# -- steps ------------------------------------------------------------------------------------------


def insert_step(
    db: Database,
    execution: PipelineExecution,
    step_name: str,
    step_type: str,
    status: PipelineStepStatus,
    now: datetime,
    **fields: Any,
) -> PipelineStep:
    with db.session() as session:
        row = PipelineStepRow(
            execution_id=execution.execution_id,
            pipeline_name=execution.pipeline_name,
            step_name=step_name,
            step_type=step_type,
            status=status.value,
            attempt_count=1,
            start_time=now,
            end_time=now if status.is_terminal() else None,
            **fields,
        )
        session.add(row)
        session.flush()
        return _step(row)


def update_step(db: Database, execution_id: str, step_name: str, **fields: Any) -> PipelineStep:
    """Set the given columns (``status`` as a PipelineStepStatus)."""
    with db.session() as session:
        row = session.scalars(
            select(PipelineStepRow).where(
                PipelineStepRow.execution_id == execution_id, PipelineStepRow.step_name == step_name
            )
        ).one()
        for key, value in fields.items():
            setattr(row, key, value.value if isinstance(value, PipelineStepStatus) else value)
        return _step(row)


def list_steps(db: Database, execution_id: str) -> list[PipelineStep]:
    """In the order they started."""
    with db.session() as session:
        _execution_row(session, execution_id)
        rows = session.scalars(
            select(PipelineStepRow)
            .where(PipelineStepRow.execution_id == execution_id)
            .order_by(PipelineStepRow.id)
        )
        return [_step(row) for row in rows]


def find_cached_step(
    db: Database, pipeline_name: str, step_type: str, cache_key: str, since: datetime
) -> PipelineStep | None:
    """The newest successful step of this pipeline with this key that started after ``since`` and ran
    its own job (a cache hit's source is the step that ran it)."""
    with db.session() as session:
        row = session.scalars(
            select(PipelineStepRow)
            .where(
                PipelineStepRow.pipeline_name == pipeline_name,
                PipelineStepRow.step_type == step_type,
                PipelineStepRow.cache_key == cache_key,
                PipelineStepRow.status == PipelineStepStatus.SUCCEEDED.value,
                PipelineStepRow.start_time >= since,
            )
            .order_by(PipelineStepRow.id.desc())
            .limit(1)
        ).one_or_none()
        return None if row is None else _step(row)
