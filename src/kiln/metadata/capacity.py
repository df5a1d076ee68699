"""Queries on capacity reservations: the scheduler's durable state (queue, grants, endpoint usage).

The scheduler keeps the live reservations in memory for speed and writes every change here first, so a
restarted server rebuilds exactly what was held and what was waiting.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, or_, select

from kiln.errors import NotFound
from kiln.metadata.database import Database
from kiln.metadata.tables import CapacityReservationRow
from kiln.records import CapacityUse, InstanceGrant, Reservation, ReservationState

__all__ = [
    "activate_reservation",
    "delete_reservation",
    "insert_reservation",
    "list_live_reservations",
    "list_reservations",
    "release_reservation",
]


def _grant_from_json(data: dict[str, Any]) -> InstanceGrant:
    gpus = data.get("gpus")
    return InstanceGrant(
        cpus=tuple(int(c) for c in data.get("cpus", [])),
        gpus=None if gpus is None else tuple(int(g) for g in gpus),
        memory_bytes=data.get("memory_bytes"),
    )


def _grant_to_json(grant: InstanceGrant) -> dict[str, Any]:
    return {
        "cpus": list(grant.cpus),
        "gpus": None if grant.gpus is None else list(grant.gpus),
        "memory_bytes": grant.memory_bytes,
    }


def _to_record(row: CapacityReservationRow) -> Reservation:
    return Reservation(
        id=row.id,
        owner=row.owner,
        use=CapacityUse(row.use),
        instance_type=row.instance_type,
        instance_count=row.instance_count,
        priority=row.priority,
        state=ReservationState(row.state),
        slots=row.slots,
        cpus_per_instance=row.cpus_per_instance,
        gpus_per_instance=row.gpus_per_instance,
        memory_bytes=row.memory_bytes,
        price_per_hour=row.price_per_hour,
        requested_at=row.requested_at,
        started_at=row.started_at,
        ended_at=row.ended_at,
        grants=tuple(_grant_from_json(g) for g in row.grants or []),
        message=row.message,
        warnings=tuple(row.warnings or []),
    )


def _row(session: Any, reservation_id: int) -> CapacityReservationRow:
    row = session.get(CapacityReservationRow, reservation_id)
    if row is None:
        raise NotFound(f"capacity reservation {reservation_id} does not exist")
    assert isinstance(row, CapacityReservationRow)
    return row


def insert_reservation(
    db: Database,
    *,
    owner: str,
    use: CapacityUse,
    instance_type: str,
    instance_count: int,
    priority: int,
    slots: int,
    cpus_per_instance: int,
    gpus_per_instance: int,
    memory_bytes: int | None,
    price_per_hour: float,
    warnings: Sequence[str],
    message: str,
    now: datetime,
    grants: Sequence[InstanceGrant] = (),
) -> Reservation:
    """A new reservation: Active when ``grants`` are given, else Pending. A live owner is a Conflict."""
    row = CapacityReservationRow(
        owner=owner,
        use=use.value,
        instance_type=instance_type,
        instance_count=instance_count,
        priority=priority,
        state=(ReservationState.ACTIVE if grants else ReservationState.PENDING).value,
        slots=slots,
        cpus_per_instance=cpus_per_instance,
        gpus_per_instance=gpus_per_instance,
        memory_bytes=memory_bytes,
        price_per_hour=price_per_hour,
        grants=[_grant_to_json(g) for g in grants],
        message=message,
        warnings=list(warnings),
        requested_at=now,
        started_at=now if grants else None,
    )
    with db.session() as session:
        session.add(row)
        session.flush()
        return _to_record(row)


def activate_reservation(
    db: Database, reservation_id: int, grants: Sequence[InstanceGrant], now: datetime
) -> Reservation:
    with db.session() as session:
        row = _row(session, reservation_id)
        row.state = ReservationState.ACTIVE.value
        row.grants = [_grant_to_json(g) for g in grants]
        row.started_at = now
        row.message = ""
        session.flush()
        return _to_record(row)


def release_reservation(db: Database, reservation_id: int, now: datetime) -> Reservation:
    with db.session() as session:
        row = _row(session, reservation_id)
        if row.ended_at is None:
            row.state = ReservationState.RELEASED.value
            row.ended_at = now
        session.flush()
        return _to_record(row)


def delete_reservation(db: Database, reservation_id: int) -> None:
    """Forget a reservation that never held anything (its request was refused after all)."""
    with db.session() as session:
        session.execute(delete(CapacityReservationRow).where(CapacityReservationRow.id == reservation_id))


def list_live_reservations(db: Database) -> list[Reservation]:
    """Pending and Active reservations, oldest first: what a starting scheduler loads."""
    with db.session() as session:
        rows = session.scalars(
            select(CapacityReservationRow)
            .where(CapacityReservationRow.ended_at.is_(None))
            .order_by(CapacityReservationRow.id)
        )
        return [_to_record(r) for r in rows]


def list_reservations(
    db: Database, *, use: CapacityUse | None = None, since: datetime | None = None
) -> list[Reservation]:
    """Reservations live now or ended at or after ``since`` (all of them without it), oldest first."""
    query = select(CapacityReservationRow).order_by(CapacityReservationRow.id)
    if use is not None:
        query = query.where(CapacityReservationRow.use == use.value)
    if since is not None:
        query = query.where(
            or_(CapacityReservationRow.ended_at.is_(None), CapacityReservationRow.ended_at >= since)
        )
    with db.session() as session:
        return [_to_record(r) for r in session.scalars(query)]
