"""one head: analytics, baskets, coupons, lists

Revision ID: 0a1b2c3d4e5f
Revises: c4a1b2d3e5f6, d5e6f7a8b9c0, e7f8a9b0c1d2, f1a2b3c4d5e6
Create Date: 2026-11-23 23:04:05.159341
"""

from __future__ import annotations

from collections.abc import Sequence

revision: str = "0a1b2c3d4e5f"
down_revision: str | None = ("c4a1b2d3e5f6", "d5e6f7a8b9c0", "e7f8a9b0c1d2", "f1a2b3c4d5e6")
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
