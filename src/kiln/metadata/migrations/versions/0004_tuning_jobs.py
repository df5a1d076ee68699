"""Hyperparameter tuning: tuning jobs, their trials, and the journal of each job's Optuna study.

Revision ID: 0004_tuning
Revises: 0002
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from kiln.metadata.tables import UTCDateTime

revision = "0004_tuning"
down_revision = "0002"
branch_labels = None
depends_on = None


def _tuning_job_id() -> sa.Column[int]:
    return sa.Column(
        "tuning_job_id", sa.Integer(), sa.ForeignKey("tuning_jobs.id", ondelete="CASCADE"), nullable=False
    )


def upgrade() -> None:
    op.create_table(
        "tuning_jobs",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(32), nullable=False, unique=True),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("config", sa.JSON(), nullable=False),
        sa.Column("random_seed", sa.Integer(), nullable=False),
        sa.Column("creation_time", UTCDateTime(), nullable=False),
        sa.Column("last_modified_time", UTCDateTime(), nullable=False),
        sa.Column("end_time", UTCDateTime(), nullable=True),
        sa.Column("failure_reason", sa.Text(), nullable=True),
        sa.Column("stop_requested_at", UTCDateTime(), nullable=True),
    )
    op.create_index("ix_tuning_jobs_status", "tuning_jobs", ["status"])
    op.create_index("ix_tuning_jobs_creation_time", "tuning_jobs", ["creation_time"])
    op.create_table(
        "tuning_job_trials",
        sa.Column("id", sa.Integer(), primary_key=True),
        _tuning_job_id(),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("training_job_name", sa.String(63), nullable=False, unique=True),
        sa.Column("parameters", sa.JSON(), nullable=False),
        sa.Column("objective_status", sa.String(16), nullable=False),
        sa.Column("objective_value", sa.Float(), nullable=True),
        sa.Column("early_stopped", sa.Boolean(), nullable=False),
        sa.Column("failure_reason", sa.Text(), nullable=True),
        sa.Column("creation_time", UTCDateTime(), nullable=False),
        sa.UniqueConstraint("tuning_job_id", "number"),
    )
    op.create_index("ix_tuning_job_trials_tuning_job_id", "tuning_job_trials", ["tuning_job_id"])
    op.create_table(
        "tuning_job_journal",
        sa.Column("id", sa.Integer(), primary_key=True),
        _tuning_job_id(),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("entry", sa.JSON(), nullable=False),
        sa.UniqueConstraint("tuning_job_id", "seq"),
    )


def downgrade() -> None:
    op.drop_table("tuning_job_journal")
    op.drop_table("tuning_job_trials")
    op.drop_table("tuning_jobs")
