"""Queries on SageMaker resource tags (AddTags, ListTags, DeleteTags), keyed by the resource's ARN."""

from __future__ import annotations

from sqlalchemy import delete, select

from kiln.metadata.database import Database
from kiln.metadata.tables import ResourceTagRow

__all__ = ["delete_tags", "list_tags", "put_tags"]


def list_tags(db: Database, resource_arn: str) -> list[tuple[str, str]]:
    with db.session() as session:
        rows = session.scalars(
            select(ResourceTagRow)
            .where(ResourceTagRow.resource_arn == resource_arn)
            .order_by(ResourceTagRow.id)
        )
        return [(r.key, r.value) for r in rows]


def put_tags(db: Database, resource_arn: str, tags: list[tuple[str, str]]) -> None:
    """Add tags; a key already present takes the new value."""
    with db.session() as session:
        for key, value in tags:
            row = session.scalars(
                select(ResourceTagRow).where(
                    ResourceTagRow.resource_arn == resource_arn, ResourceTagRow.key == key
                )
            ).one_or_none()
            if row is None:
                session.add(ResourceTagRow(resource_arn=resource_arn, key=key, value=value))
            else:
                row.value = value


def delete_tags(db: Database, resource_arn: str, keys: list[str] | None = None) -> None:
    """Remove the given keys (every tag of the resource when ``keys`` is None)."""
    with db.session() as session:
        statement = delete(ResourceTagRow).where(ResourceTagRow.resource_arn == resource_arn)
        if keys is not None:
            statement = statement.where(ResourceTagRow.key.in_(keys))
        session.execute(statement)
