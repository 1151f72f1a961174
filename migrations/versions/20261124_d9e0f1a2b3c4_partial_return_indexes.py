"""partial indexes on the return links of receipts and receipt lines

Revision ID: d9e0f1a2b3c4
Revises: c8d9e0f1a2b3
Create Date: 2026-11-24 08:40:00

``receipt.original_receipt_id`` and ``receipt_line.original_line_id`` are set only on
returns; every sale (and every imported receipt) leaves them NULL. A full index keeps an
entry for each of those NULLs, which a bulk import pays for on every row and no query
reads: the lookups on these columns are ``= value`` or ``IN (…)`` (the return's checks,
and the foreign keys' own checks when a receipt or line is deleted), and both databases
use an index ``WHERE … IS NOT NULL`` for them.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "d9e0f1a2b3c4"
down_revision: str | None = "c8d9e0f1a2b3"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEXES = (
    ("receipt", "ix_receipt_original_receipt_id", "original_receipt_id"),
    ("receipt_line", "ix_receipt_line_original_line_id", "original_line_id"),
)


def upgrade() -> None:
    for table, name, column in INDEXES:
        op.drop_index(name, table_name=table)
        where = sa.text(f"{column} IS NOT NULL")
        op.create_index(
            name, table, [column], unique=False, postgresql_where=where, sqlite_where=where
        )


def downgrade() -> None:
    for table, name, column in INDEXES:
        op.drop_index(name, table_name=table)
        op.create_index(name, table, [column], unique=False)
