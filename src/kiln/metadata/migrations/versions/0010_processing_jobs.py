"""Processing jobs: host jobs of a second kind, kept with training jobs (one lifecycle, one host table).

A processing job runs on training hosts and goes through the same transitions, hosts, logs and
capacity as a training job, so it is a row of ``training_jobs`` with ``kind`` "processing"; its
``/opt/ml/output/message`` is kept as its ExitMessage.

Revision ID: 0010_processing_jobs
Revises: 0005_capacity
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010_processing_jobs"
down_revision = "0005_capacity"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("training_jobs") as batch:
        batch.add_column(sa.Column("kind", sa.String(16), nullable=False, server_default="training"))
        batch.add_column(sa.Column("exit_message", sa.Text(), nullable=True))
        batch.create_index("ix_training_jobs_kind", ["kind"])


def downgrade() -> None:
    with op.batch_alter_table("training_jobs") as batch:
        batch.drop_index("ix_training_jobs_kind")
        batch.drop_column("exit_message")
        batch.drop_column("kind")
