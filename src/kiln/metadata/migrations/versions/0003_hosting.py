"""Hosting: models, endpoint configs, endpoints and their instances.

Revision ID: 0003_hosting
Revises: 0002
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from kiln.metadata.tables import UTCDateTime

revision = "0003_hosting"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    for table in ("models", "endpoint_configs"):
        op.create_table(
            table,
            sa.Column("id", sa.Integer(), primary_key=True),
            sa.Column("name", sa.String(63), nullable=False, unique=True),
            sa.Column("spec", sa.JSON(), nullable=False),
            sa.Column("creation_time", UTCDateTime(), nullable=False),
        )
    op.create_table(
        "endpoints",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(63), nullable=False, unique=True),
        sa.Column("config_name", sa.String(63), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("weights", sa.JSON(), nullable=False),
        sa.Column("counts", sa.JSON(), nullable=False),
        sa.Column("failure_reason", sa.Text(), nullable=True),
        sa.Column("creation_time", UTCDateTime(), nullable=False),
        sa.Column("last_modified_time", UTCDateTime(), nullable=False),
        sa.Column("in_service_since", UTCDateTime(), nullable=True),
    )
    op.create_index("ix_endpoints_status", "endpoints", ["status"])
    op.create_table(
        "endpoint_instances",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "endpoint_id", sa.Integer(), sa.ForeignKey("endpoints.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("instance_id", sa.String(80), nullable=False, unique=True),
        sa.Column("variant", sa.String(63), nullable=False),
        sa.Column("config_name", sa.String(63), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=True),
        sa.Column("pid_started_at", sa.Float(), nullable=True),
        sa.Column("port", sa.Integer(), nullable=True),
        sa.Column("socket_path", sa.Text(), nullable=True),
        sa.Column("failure_reason", sa.Text(), nullable=True),
        sa.Column("started_at", UTCDateTime(), nullable=False),
    )
    op.create_index("ix_endpoint_instances_endpoint_id", "endpoint_instances", ["endpoint_id"])


def downgrade() -> None:
    op.drop_table("endpoint_instances")
    op.drop_table("endpoints")
    op.drop_table("endpoint_configs")
    op.drop_table("models")
