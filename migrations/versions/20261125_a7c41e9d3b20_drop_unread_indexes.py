"""drop the two indexes no query reads: receipts by till alone, lines by product alone

Revision ID: a7c41e9d3b20
Revises: e0f1a2b3c4d5
Create Date: 2026-11-25 06:00:00

Every receipt a till or an import writes pays for each index of ``receipt`` and
``receipt_line``. Two of them serve no query:

* ``ix_receipt_terminal_id``: every look-up of a receipt by its till also names the
  store (the idempotency key, the replay check, a receipt found by number, a return's
  original: ``sales.queries.TILL_OF_RECEIPT``), and the unique key
  ``(store_id, terminal_id, receipt_no)`` answers all of them. Tills are never deleted,
  so the foreign key never searches by till either.
* ``ix_receipt_line_product_id``: lines are read by receipt (the unique key
  ``(receipt_id, line_no)``) or in whole time windows joined from ``receipt``
  (analytics, baskets, lists); products are never deleted, so the foreign key never
  searches by product.

Measured on the demo file's rows (``COPY`` into the real tables, triggers off, best of
3): 0.49 s with both, 0.38 s without. A query that comes to need one adds it back in
its own migration, shaped for that query.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "a7c41e9d3b20"
down_revision: str | None = "e0f1a2b3c4d5"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEXES = (
    ("receipt", "ix_receipt_terminal_id", "terminal_id"),
    ("receipt_line", "ix_receipt_line_product_id", "product_id"),
)


def upgrade() -> None:
    for table, name, _column in INDEXES:
        op.drop_index(name, table_name=table)


def downgrade() -> None:
    for table, name, column in INDEXES:
        op.create_index(name, table, [column], unique=False)
