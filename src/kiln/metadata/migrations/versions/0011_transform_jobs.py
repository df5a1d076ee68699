"""Batch transform jobs: one row per CreateTransformJob.

Revision ID: 0011_transform_jobs
Revises: 0002
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011_transform_jobs"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "transform_jobs",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(63), nullable=False, unique=True),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("spec", sa.JSON(), nullable=False),
        sa.Column("creation_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_modified_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("start_time", sa.DateTime(timezone=True)),
        sa.Column("end_time", sa.DateTime(timezone=True)),
        sa.Column("failure_reason", sa.Text()),
        sa.Column("stop_requested_at", sa.DateTime(timezone=True)),
        sa.Column("billable_seconds", sa.Integer(), nullable=False),
        sa.Column("progress", sa.JSON(), nullable=False),
    )
    op.create_index("ix_transform_jobs_status", "transform_jobs", ["status"])
    op.create_index("ix_transform_jobs_creation_time", "transform_jobs", ["creation_time"])


def downgrade() -> None:
    op.drop_index("ix_transform_jobs_creation_time", "transform_jobs")
    op.drop_index("ix_transform_jobs_status", "transform_jobs")
    op.drop_table("transform_jobs")
