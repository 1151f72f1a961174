"""job runs

Revision ID: b7c3e1f04a21
Revises: aab618002319
Create Date: 2026-11-23 19:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import regulars.core.db

revision: str = "b7c3e1f04a21"
down_revision: str | None = "aab618002319"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "job_run",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("job", sa.String(length=50), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("started_at", regulars.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("finished_at", regulars.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("result", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_job_run")),
        sa.UniqueConstraint("job", "day", name=op.f("uq_job_run_job_day")),
    )


def downgrade() -> None:
    op.drop_table("job_run")
