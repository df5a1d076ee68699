"""Queries on models, endpoint configs, endpoints and endpoint instances (frozen records out)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from kiln.metadata.database import Database
from kiln.metadata.named import (
    ResourceKind,
    delete_named,
    ensure_unused,
    find_named,
    get_named,
    list_named,
)
from kiln.metadata.tables import EndpointConfigRow, EndpointInstanceRow, EndpointRow, ModelRow
from kiln.records import (
    Endpoint,
    EndpointConfigRecord,
    EndpointInstance,
    EndpointStatus,
    InstanceState,
    ModelRecord,
)

__all__ = [
    "ENDPOINTS",
    "ENDPOINT_CONFIGS",
    "MODELS",
    "delete_endpoint_config",
    "delete_endpoint_row",
    "delete_model",
    "find_endpoint",
    "get_endpoint",
    "get_endpoint_config",
    "get_model",
    "insert_endpoint",
    "insert_endpoint_config",
    "insert_instance",
    "insert_model",
    "list_endpoint_configs",
    "list_endpoints",
    "list_models",
    "update_endpoint",
    "update_instance",
]

MODELS = ResourceKind("model", "ModelName", "`kiln models list`")
ENDPOINT_CONFIGS = ResourceKind(
    "endpoint configuration", "EndpointConfigName", "GET /api/v1/endpoint-configs"
)
ENDPOINTS = ResourceKind("endpoint", "EndpointName", "`kiln endpoints list`")

# -- models and endpoint configs: immutable, so create / get / list / delete ----------------------------


def insert_model(db: Database, name: str, spec: dict[str, Any], now: datetime) -> ModelRecord:
    with db.session() as session:
        ensure_unused(session, ModelRow, MODELS, name)
        session.add(ModelRow(name=name, spec=spec, creation_time=now))
    return ModelRecord(name, spec, now)


def get_model(db: Database, name: str) -> ModelRecord:
    with db.session() as session:
        row = get_named(session, ModelRow, MODELS, name)
        return ModelRecord(row.name, row.spec, row.creation_time)


def list_models(db: Database, limit: int = 100, offset: int = 0) -> list[ModelRecord]:
    with db.session() as session:
        rows = list_named(session, ModelRow, limit=limit, offset=offset)
        return [ModelRecord(r.name, r.spec, r.creation_time) for r in rows]


def delete_model(db: Database, name: str) -> None:
    with db.session() as session:
        delete_named(session, ModelRow, MODELS, name)


def insert_endpoint_config(
    db: Database, name: str, spec: dict[str, Any], now: datetime
) -> EndpointConfigRecord:
    with db.session() as session:
        ensure_unused(session, EndpointConfigRow, ENDPOINT_CONFIGS, name)
        session.add(EndpointConfigRow(name=name, spec=spec, creation_time=now))
    return EndpointConfigRecord(name, spec, now)


def get_endpoint_config(db: Database, name: str) -> EndpointConfigRecord:
    with db.session() as session:
        row = get_named(session, EndpointConfigRow, ENDPOINT_CONFIGS, name)
        return EndpointConfigRecord(row.name, row.spec, row.creation_time)


def list_endpoint_configs(db: Database, limit: int = 100, offset: int = 0) -> list[EndpointConfigRecord]:
    with db.session() as session:
        rows = list_named(session, EndpointConfigRow, limit=limit, offset=offset)
        return [EndpointConfigRecord(r.name, r.spec, r.creation_time) for r in rows]


def delete_endpoint_config(db: Database, name: str) -> None:
    with db.session() as session:
        delete_named(session, EndpointConfigRow, ENDPOINT_CONFIGS, name)


# -- endpoints ----------------------------------------------------------------------------------------


def _instance(row: EndpointInstanceRow) -> EndpointInstance:
    return EndpointInstance(
        instance_id=row.instance_id,
        variant=row.variant,
        config_name=row.config_name,
        state=InstanceState(row.state),
        handle=row.handle,
        port=row.port,
        socket_path=row.socket_path,
        failure_reason=row.failure_reason,
        started_at=row.started_at,
    )


def _endpoint(session: Session, row: EndpointRow) -> Endpoint:
    instances = session.scalars(
        select(EndpointInstanceRow)
        .where(EndpointInstanceRow.endpoint_id == row.id)
        .order_by(EndpointInstanceRow.id)
    )
    return Endpoint(
        name=row.name,
        config_name=row.config_name,
        status=EndpointStatus(row.status),
        weights={k: float(v) for k, v in row.weights.items()},
        counts={k: int(v) for k, v in row.counts.items()},
        creation_time=row.creation_time,
        last_modified_time=row.last_modified_time,
        failure_reason=row.failure_reason,
        in_service_since=row.in_service_since,
        instances=tuple(_instance(i) for i in instances),
    )


def _endpoint_row(session: Session, name: str) -> EndpointRow:
    return get_named(session, EndpointRow, ENDPOINTS, name)


def insert_endpoint(
    db: Database,
    name: str,
    config_name: str,
    weights: dict[str, float],
    counts: dict[str, int],
    now: datetime,
) -> Endpoint:
    with db.session() as session:
        ensure_unused(session, EndpointRow, ENDPOINTS, name)
        row = EndpointRow(
            name=name,
            config_name=config_name,
            status=EndpointStatus.CREATING.value,
            weights=weights,
            counts=counts,
            creation_time=now,
            last_modified_time=now,
        )
        session.add(row)
        session.flush()
        return _endpoint(session, row)


def find_endpoint(db: Database, name: str) -> Endpoint | None:
    with db.session() as session:
        row = find_named(session, EndpointRow, name)
        return None if row is None else _endpoint(session, row)


def get_endpoint(db: Database, name: str) -> Endpoint:
    with db.session() as session:
        return _endpoint(session, _endpoint_row(session, name))


def list_endpoints(db: Database, *, status: EndpointStatus | None = None, limit: int = 100) -> list[Endpoint]:
    query = select(EndpointRow).order_by(EndpointRow.id.desc()).limit(limit)
    if status is not None:
        query = query.where(EndpointRow.status == status.value)
    with db.session() as session:
        return [_endpoint(session, r) for r in session.scalars(query)]


def update_endpoint(db: Database, name: str, now: datetime, **fields: Any) -> Endpoint:
    """Set endpoint fields (status, config_name, weights, counts, failure_reason, in_service_since)."""
    with db.session() as session:
        row = _endpoint_row(session, name)
        for key, value in fields.items():
            setattr(row, key, value.value if isinstance(value, EndpointStatus) else value)
        row.last_modified_time = now
        session.flush()
        return _endpoint(session, row)


def delete_endpoint_row(db: Database, name: str) -> None:
    with db.session() as session:
        session.delete(_endpoint_row(session, name))


def insert_instance(
    db: Database, endpoint: str, instance_id: str, variant: str, config_name: str, now: datetime
) -> None:
    with db.session() as session:
        row = _endpoint_row(session, endpoint)
        session.add(
            EndpointInstanceRow(
                endpoint_id=row.id,
                instance_id=instance_id,
                variant=variant,
                config_name=config_name,
                state=InstanceState.STARTING.value,
                started_at=now,
            )
        )


def update_instance(db: Database, instance_id: str, **fields: Any) -> None:
    with db.session() as session:
        row = session.scalars(
            select(EndpointInstanceRow).where(EndpointInstanceRow.instance_id == instance_id)
        ).one_or_none()
        if row is None:
            return  # the endpoint was deleted meanwhile
        for key, value in fields.items():
            setattr(row, key, value.value if isinstance(value, InstanceState) else value)
