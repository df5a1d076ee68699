"""Capacity: reservations of CPUs and GPUs (the queue, limits and endpoint cost), job priority and price.

Revision ID: 0005_capacity
Revises: 0002
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from kiln.metadata.tables import UTCDateTime

revision = "0005_capacity"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("training_jobs") as batch:
        batch.add_column(sa.Column("priority", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("price_per_hour", sa.Float(), nullable=True))
        batch.add_column(sa.Column("capacity_warnings", sa.JSON(), nullable=True))
    op.create_table(
        "capacity_reservations",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("owner", sa.String(200), nullable=False),
        sa.Column("use", sa.String(16), nullable=False),
        sa.Column("instance_type", sa.String(64), nullable=False),
        sa.Column("instance_count", sa.Integer(), nullable=False),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("slots", sa.Integer(), nullable=False),
        sa.Column("cpus_per_instance", sa.Integer(), nullable=False),
        sa.Column("gpus_per_instance", sa.Integer(), nullable=False),
        sa.Column("memory_bytes", sa.BigInteger(), nullable=True),
        sa.Column("price_per_hour", sa.Float(), nullable=False),
        sa.Column("grants", sa.JSON(), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("warnings", sa.JSON(), nullable=False),
        sa.Column("requested_at", UTCDateTime(), nullable=False),
        sa.Column("started_at", UTCDateTime(), nullable=True),
        sa.Column("ended_at", UTCDateTime(), nullable=True),
    )
    op.create_index("ix_capacity_reservations_state", "capacity_reservations", ["state"])
    op.create_index("ix_capacity_reservations_ended_at", "capacity_reservations", ["ended_at"])
    op.create_index(
        "ix_capacity_reservations_live_owner",
        "capacity_reservations",
        ["owner"],
        unique=True,
        sqlite_where=sa.text("ended_at IS NULL"),
        postgresql_where=sa.text("ended_at IS NULL"),
    )


def downgrade() -> None:
    op.drop_table("capacity_reservations")
    with op.batch_alter_table("training_jobs") as batch:
        batch.drop_column("capacity_warnings")
        batch.drop_column("price_per_hour")
        batch.drop_column("priority")
