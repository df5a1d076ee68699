"""Endpoint metrics: one row per endpoint variant and 10-second period (CloudWatch's endpoint metrics).

Revision ID: 0008_endpoint_metrics
Revises: 0003_hosting
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008_endpoint_metrics"
down_revision = "0003_hosting"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "endpoint_metrics",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("endpoint_name", sa.String(63), nullable=False),
        sa.Column("variant_name", sa.String(63), nullable=False),
        sa.Column("period_start", sa.BigInteger(), nullable=False),
        sa.Column("invocations", sa.Integer(), nullable=False),
        sa.Column("errors_4xx", sa.Integer(), nullable=False),
        sa.Column("errors_5xx", sa.Integer(), nullable=False),
        sa.Column("instances", sa.Integer(), nullable=False),
        sa.Column("model_latency", sa.JSON(), nullable=False),
        sa.Column("overhead_latency", sa.JSON(), nullable=False),
        sa.Column("model_latency_sum_us", sa.Float(), nullable=False),
        sa.Column("overhead_latency_sum_us", sa.Float(), nullable=False),
        sa.UniqueConstraint("endpoint_name", "variant_name", "period_start"),
    )
    op.create_index("ix_endpoint_metrics_period_start", "endpoint_metrics", ["period_start"])


def downgrade() -> None:
    op.drop_index("ix_endpoint_metrics_period_start", "endpoint_metrics")
    op.drop_table("endpoint_metrics")
