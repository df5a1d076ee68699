"""Pipelines: definitions, executions and their steps (each step names the ordinary job it runs).

Revision ID: 0012_pipelines
Revises: 0010_processing_jobs
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012_pipelines"
down_revision = "0010_processing_jobs"
branch_labels = None
depends_on = None


def upgrade() -> None:
    when = sa.DateTime(timezone=True)
    op.create_table(
        "pipelines",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(256), nullable=False, unique=True),
        sa.Column("definition", sa.JSON(), nullable=False),
        sa.Column("role_arn", sa.Text()),
        sa.Column("display_name", sa.String(256)),
        sa.Column("description", sa.Text()),
        sa.Column("max_parallel_steps", sa.Integer()),
        sa.Column("creation_time", when, nullable=False),
        sa.Column("last_modified_time", when, nullable=False),
    )
    op.create_table(
        "pipeline_executions",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("execution_id", sa.String(32), nullable=False, unique=True),
        sa.Column("pipeline_name", sa.String(256), nullable=False, index=True),
        sa.Column("status", sa.String(16), nullable=False, index=True),
        sa.Column("definition", sa.JSON(), nullable=False),
        sa.Column("parameters", sa.JSON(), nullable=False),
        sa.Column("display_name", sa.String(256)),
        sa.Column("description", sa.Text()),
        sa.Column("max_parallel_steps", sa.Integer()),
        sa.Column("failure_reason", sa.Text()),
        sa.Column("creation_time", when, nullable=False),
        sa.Column("last_modified_time", when, nullable=False),
        sa.Column("stop_requested_at", when),
    )
    op.create_table(
        "pipeline_execution_steps",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("execution_id", sa.String(32), nullable=False, index=True),
        sa.Column("pipeline_name", sa.String(256), nullable=False, index=True),
        sa.Column("step_name", sa.String(64), nullable=False),
        sa.Column("step_type", sa.String(32), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("job_name", sa.String(256)),
        sa.Column("arguments", sa.JSON()),
        sa.Column("cache_key", sa.String(64), index=True),
        sa.Column("cache_source_execution", sa.String(32)),
        sa.Column("outcome", sa.String(8)),
        sa.Column("attempt_count", sa.Integer(), nullable=False),
        sa.Column("retry_at", when),
        sa.Column("failure_reason", sa.Text()),
        sa.Column("start_time", when, nullable=False),
        sa.Column("end_time", when),
        sa.UniqueConstraint("execution_id", "step_name"),
    )


def downgrade() -> None:
    op.drop_table("pipeline_execution_steps")
    op.drop_table("pipeline_executions")
    op.drop_table("pipelines")
