"""insight_settings: fixed RFM cut points and the profit pyramid's tier shares

Revision ID: b8d52f0e6c31
Revises: a7c41e9d3b20
Create Date: 2026-11-25 06:40:00

One row (code ``default``) the analytics run reads: each RFM dimension scored by four
fixed cut points or, when NULL, by quintiles as before; and the share of members in the
platinum, gold and iron tiers (5 %, 15 %, 30 % as before).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import regulars.core.db

revision: str = "b8d52f0e6c31"
down_revision: str | None = "a7c41e9d3b20"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "insight_settings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=20), nullable=False),
        sa.Column("rfm_recency", sa.JSON(), nullable=True),
        sa.Column("rfm_frequency", sa.JSON(), nullable=True),
        sa.Column("rfm_monetary", sa.JSON(), nullable=True),
        sa.Column("pyramid_platinum", sa.Float(), nullable=False),
        sa.Column("pyramid_gold", sa.Float(), nullable=False),
        sa.Column("pyramid_iron", sa.Float(), nullable=False),
        sa.Column("updated_at", regulars.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.String(length=100), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_insight_settings")),
        sa.UniqueConstraint("code", name=op.f("uq_insight_settings_code")),
    )


def downgrade() -> None:
    op.drop_table("insight_settings")
