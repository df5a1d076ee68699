"""Executor handles: hosts and endpoint instances name their process by the executor's opaque handle.

The pid and its start time were the local executor's way of naming a process; a Ray executor names an
actor. One text column holds whatever the executor answered. A process started before this upgrade
keeps being watched and stopped through a local handle made from its pid; its log and result file
were never named in the database, so they are not read back.

Revision ID: 0009_executor_handles
Revises: 0003_hosting
Create Date: 2026-12-04
"""

from __future__ import annotations

import json

import sqlalchemy as sa
from alembic import op

revision = "0009_executor_handles"
down_revision = "0003_hosting"
branch_labels = None
depends_on = None

TABLES = ("training_job_hosts", "endpoint_instances")


def _local_handle(pid: int, started_at: float | None) -> str:
    return "local:" + json.dumps({"pid": pid, "started_at": started_at or 0.0}, separators=(",", ":"))


def upgrade() -> None:
    connection = op.get_bind()
    for table in TABLES:
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("handle", sa.Text(), nullable=True))
        rows = sa.table(
            table,
            sa.column("id", sa.Integer),
            sa.column("pid", sa.Integer),
            sa.column("pid_started_at", sa.Float),
            sa.column("handle", sa.Text),
        )
        started = connection.execute(
            sa.select(rows.c.id, rows.c.pid, rows.c.pid_started_at).where(rows.c.pid.is_not(None))
        )
        for row_id, pid, started_at in started.all():
            connection.execute(
                sa.update(rows).where(rows.c.id == row_id).values(handle=_local_handle(pid, started_at))
            )
        with op.batch_alter_table(table) as batch:
            batch.drop_column("pid_started_at")
            batch.drop_column("pid")


def downgrade() -> None:
    connection = op.get_bind()
    for table in TABLES:
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("pid", sa.Integer(), nullable=True))
            batch.add_column(sa.Column("pid_started_at", sa.Float(), nullable=True))
        rows = sa.table(
            table,
            sa.column("id", sa.Integer),
            sa.column("pid", sa.Integer),
            sa.column("pid_started_at", sa.Float),
            sa.column("handle", sa.Text),
        )
        for row_id, handle in connection.execute(sa.select(rows.c.id, rows.c.handle)).all():
            if handle and handle.startswith("local:"):
                fields = json.loads(handle[len("local:") :])
                connection.execute(
                    sa.update(rows)
                    .where(rows.c.id == row_id)
                    .values(pid=int(fields["pid"]), pid_started_at=float(fields["started_at"]))
                )
        with op.batch_alter_table(table) as batch:
            batch.drop_column("handle")
