"""member page: codes that confirm a new email address

Revision ID: b7c8d9e0f1a2
Revises: 0a1b2c3d4e5f
Create Date: 2026-11-24 00:50:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "b7c8d9e0f1a2"
down_revision: str | None = "0a1b2c3d4e5f"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("member_otp", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("purpose", sa.String(length=20), server_default="sign_in", nullable=False)
        )
        batch_op.add_column(sa.Column("target_enc", sa.LargeBinary(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("member_otp", schema=None) as batch_op:
        batch_op.drop_column("target_enc")
        batch_op.drop_column("purpose")
