"""The AWS wire: access keys (secrets encrypted at rest) and SageMaker resource tags.

Revision ID: 0006_access_keys
Revises: 0002
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from kiln.metadata.tables import UTCDateTime

revision = "0006_access_keys"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "access_keys",
        sa.Column("access_key_id", sa.String(32), primary_key=True),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("secret_ciphertext", sa.Text(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("revoked_at", UTCDateTime(), nullable=True),
    )
    op.create_table(
        "resource_tags",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("resource_arn", sa.String(512), nullable=False),
        sa.Column("key", sa.String(128), nullable=False),
        sa.Column("value", sa.String(256), nullable=False),
        sa.UniqueConstraint("resource_arn", "key", name="uq_resource_tags_arn_key"),
    )
    op.create_index("ix_resource_tags_resource_arn", "resource_tags", ["resource_arn"])


def downgrade() -> None:
    op.drop_index("ix_resource_tags_resource_arn", table_name="resource_tags")
    op.drop_table("resource_tags")
    op.drop_table("access_keys")
