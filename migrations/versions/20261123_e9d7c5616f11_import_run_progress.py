"""import run progress

Revision ID: e9d7c5616f11
Revises: 348069b5cf9d
Create Date: 2026-11-23 18:40:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "e9d7c5616f11"
down_revision: str | None = "348069b5cf9d"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("import_run", schema=None) as batch_op:
        # Runs recorded before this revision were all synchronous, hence finished.
        batch_op.add_column(
            sa.Column("status", sa.String(length=10), nullable=False, server_default="done")
        )
        batch_op.add_column(
            sa.Column("rows_done", sa.Integer(), nullable=False, server_default="0")
        )
        batch_op.add_column(sa.Column("error", sa.String(length=500), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("import_run", schema=None) as batch_op:
        batch_op.drop_column("error")
        batch_op.drop_column("rows_done")
        batch_op.drop_column("status")
