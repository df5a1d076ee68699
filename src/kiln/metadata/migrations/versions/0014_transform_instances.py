"""Transform instances: the executor handles of a transform job's instances, so that a restarted
server stops what the previous one started before it runs the job again.

Revision ID: 0014_transform_instances
Revises: 0011_transform_jobs
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014_transform_instances"
down_revision = "0011_transform_jobs"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("transform_jobs") as batch:
        batch.add_column(sa.Column("instance_handles", sa.JSON))


def downgrade() -> None:
    with op.batch_alter_table("transform_jobs") as batch:
        batch.drop_column("instance_handles")
