"""Queries on the AWS wire's access keys (frozen records out; the secret only as stored, encrypted)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from kiln.errors import NotFound
from kiln.metadata.database import Database
from kiln.metadata.tables import AccessKeyRow
from kiln.records import AccessKey, AccessKeyStatus

__all__ = [
    "find_access_key_secret",
    "insert_access_key",
    "list_access_keys",
    "revoke_access_key",
]


def _record(row: AccessKeyRow) -> AccessKey:
    return AccessKey(row.access_key_id, row.name, AccessKeyStatus(row.status), row.created_at, row.revoked_at)


def insert_access_key(
    db: Database, access_key_id: str, name: str, secret_ciphertext: str, now: datetime
) -> AccessKey:
    with db.session() as session:
        row = AccessKeyRow(
            access_key_id=access_key_id,
            name=name,
            secret_ciphertext=secret_ciphertext,
            status=AccessKeyStatus.ACTIVE.value,
            created_at=now,
        )
        session.add(row)
        session.flush()
        return _record(row)


def list_access_keys(db: Database) -> list[AccessKey]:
    with db.session() as session:
        rows = session.scalars(select(AccessKeyRow).order_by(AccessKeyRow.created_at))
        return [_record(r) for r in rows]


def find_access_key_secret(db: Database, access_key_id: str) -> tuple[AccessKey, str] | None:
    """The key and its encrypted secret, or None when no key has this id."""
    with db.session() as session:
        row = session.get(AccessKeyRow, access_key_id)
        return None if row is None else (_record(row), row.secret_ciphertext)


def revoke_access_key(db: Database, access_key_id: str, now: datetime) -> AccessKey:
    with db.session() as session:
        row = session.get(AccessKeyRow, access_key_id)
        if row is None:
            raise NotFound(f"No access key {access_key_id!r}; `kiln keys list` shows the keys that exist.")
        if row.status != AccessKeyStatus.INACTIVE.value:
            row.status = AccessKeyStatus.INACTIVE.value
            row.revoked_at = now
        return _record(row)
