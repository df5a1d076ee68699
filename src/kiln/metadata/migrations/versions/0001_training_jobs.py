"""Training jobs, their status transitions, hosts, log lines and metric values.

Revision ID: 0001
Revises:
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from kiln.metadata.tables import UTCDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "training_jobs",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(63), nullable=False, unique=True),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("secondary_status", sa.String(32), nullable=False),
        sa.Column("spec", sa.JSON(), nullable=False),
        sa.Column("creation_time", UTCDateTime(), nullable=False),
        sa.Column("last_modified_time", UTCDateTime(), nullable=False),
        sa.Column("training_start_time", UTCDateTime(), nullable=True),
        sa.Column("training_end_time", UTCDateTime(), nullable=True),
        sa.Column("failure_reason", sa.Text(), nullable=True),
        sa.Column("model_artifacts", sa.Text(), nullable=True),
        sa.Column("output_artifacts", sa.Text(), nullable=True),
        sa.Column("stop_requested_at", UTCDateTime(), nullable=True),
        sa.Column("billable_seconds", sa.Integer(), nullable=False),
    )
    op.create_index("ix_training_jobs_status", "training_jobs", ["status"])
    op.create_index("ix_training_jobs_creation_time", "training_jobs", ["creation_time"])
    op.create_table(
        "training_job_transitions",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "job_id", sa.Integer(), sa.ForeignKey("training_jobs.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("start_time", UTCDateTime(), nullable=False),
        sa.Column("end_time", UTCDateTime(), nullable=True),
        sa.Column("message", sa.Text(), nullable=False),
    )
    op.create_index("ix_training_job_transitions_job_id", "training_job_transitions", ["job_id"])
    op.create_table(
        "training_job_hosts",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "job_id", sa.Integer(), sa.ForeignKey("training_jobs.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("host", sa.String(32), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=True),
        sa.Column("pid_started_at", sa.Float(), nullable=True),
        sa.Column("exit_code", sa.Integer(), nullable=True),
        sa.Column("failure_reason", sa.Text(), nullable=True),
        sa.Column("last_heartbeat", UTCDateTime(), nullable=True),
        sa.Column("last_batch", sa.Integer(), nullable=False),
        sa.UniqueConstraint("job_id", "host"),
    )
    op.create_index("ix_training_job_hosts_job_id", "training_job_hosts", ["job_id"])
    op.create_table(
        "training_job_logs",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "job_id", sa.Integer(), sa.ForeignKey("training_jobs.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("host", sa.String(32), nullable=False),
        sa.Column("stream", sa.String(8), nullable=False),
        sa.Column("timestamp", UTCDateTime(), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
    )
    op.create_index("ix_training_job_logs_job_seq", "training_job_logs", ["job_id", "id"])
    op.create_table(
        "training_job_metrics",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "job_id", sa.Integer(), sa.ForeignKey("training_jobs.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("host", sa.String(32), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("value", sa.Float(), nullable=False),
        sa.Column("timestamp", UTCDateTime(), nullable=False),
    )
    op.create_index("ix_training_job_metrics_job_name", "training_job_metrics", ["job_id", "name"])


def downgrade() -> None:
    op.drop_table("training_job_metrics")
    op.drop_table("training_job_logs")
    op.drop_table("training_job_hosts")
    op.drop_table("training_job_transitions")
    op.drop_table("training_jobs")
