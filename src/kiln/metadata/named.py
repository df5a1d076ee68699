"""Resources known by their name: one lookup, one duplicate check, one delete, one list, and the same
messages for every resource (training jobs, tuning jobs, models, endpoint configs, endpoints, …).

Each resource module declares its :class:`ResourceKind` (how messages name it) and calls these inside
its own session, so a lookup and the change that follows share one transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import Column, inspect, select
from sqlalchemy.orm import Session

from kiln.errors import Conflict, NotFound
from kiln.metadata.tables import Base

__all__ = [
    "ResourceKind",
    "delete_named",
    "ensure_unused",
    "find_named",
    "get_named",
    "list_named",
]


@dataclass(frozen=True)
class ResourceKind:
    """How messages name one kind of resource."""

    noun: str  # as in a sentence: "training job", "endpoint configuration"
    name_field: str  # the request field that names one: "TrainingJobName"
    listed_by: str  # where a person sees the ones that exist: "`kiln jobs list`"

    def not_found(self, name: str) -> NotFound:
        return NotFound(f"Could not find {self.noun} {name!r}; {self.listed_by} shows the ones that exist.")

    def already_exists(self, name: str) -> Conflict:
        noun = self.noun[:1].upper() + self.noun[1:]
        return Conflict(f"{noun} {name!r} already exists; choose another {self.name_field}.")


R = TypeVar("R", bound=Base)  # a row with ``id`` (insertion order) and a unique ``name`` column


def _column(row_type: type[Base], key: str) -> Column[Any]:
    return inspect(row_type).columns[key]


def find_named(session: Session, row_type: type[R], name: str) -> R | None:
    return session.scalars(select(row_type).where(_column(row_type, "name") == name)).one_or_none()


def get_named(session: Session, row_type: type[R], kind: ResourceKind, name: str) -> R:
    row = find_named(session, row_type, name)
    if row is None:
        raise kind.not_found(name)
    return row


def ensure_unused(session: Session, row_type: type[R], kind: ResourceKind, name: str) -> None:
    """Conflict if the name is taken. The unique index still guards the race between two sessions."""
    if session.scalar(select(_column(row_type, "id")).where(_column(row_type, "name") == name)) is not None:
        raise kind.already_exists(name)


def delete_named(session: Session, row_type: type[R], kind: ResourceKind, name: str) -> None:
    session.delete(get_named(session, row_type, kind, name))


def list_named(session: Session, row_type: type[R], *, limit: int, offset: int = 0) -> Sequence[R]:
    """Newest first (by insertion order)."""
    return session.scalars(
        select(row_type).order_by(_column(row_type, "id").desc()).limit(limit).offset(offset)
    ).all()
