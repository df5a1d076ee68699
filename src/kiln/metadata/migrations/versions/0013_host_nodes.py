"""Host nodes: the node each host of a job runs on (a Ray cluster's node; this machine for ``local``).

Revision ID: 0013_host_nodes
Revises: 0012_pipelines
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013_host_nodes"
down_revision = "0012_pipelines"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("training_job_hosts") as batch:
        batch.add_column(sa.Column("node", sa.String(256)))


def downgrade() -> None:
    with op.batch_alter_table("training_job_hosts") as batch:
        batch.drop_column("node")
