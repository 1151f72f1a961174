"""Tables of the sales domain."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from regulars.core.db import Base, Money, Quantity, UTCDateTime
from regulars.core.timeutil import utcnow


class Receipt(Base):
    """One checkout (or one return) at one till.

    (store, terminal, receipt number) is the natural idempotency key: a till replaying a
    receipt after an outage gets the first answer back (``response``) and nothing new.
    """

    __tablename__ = "receipt"
    __table_args__ = (
        UniqueConstraint("store_id", "terminal_id", "receipt_no"),
        Index("ix_receipt_member_time", "member_id", "occurred_at"),
        # Only returns have an original: sales (and bulk imports) write no entry.
        Index(
            "ix_receipt_original_receipt_id",
            "original_receipt_id",
            postgresql_where=text("original_receipt_id IS NOT NULL"),
            sqlite_where=text("original_receipt_id IS NOT NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("store.id"))
    # Not indexed alone: every look-up by till names the store too, and the unique key
    # answers it (migration a7c41e9d3b20).
    terminal_id: Mapped[int] = mapped_column(ForeignKey("terminal.id"))
    receipt_no: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(10), default="sale")
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    cashier: Mapped[str | None] = mapped_column(String(64))
    # An erased member's receipts stay for aggregates but lose the link to the person.
    member_id: Mapped[int | None] = mapped_column(ForeignKey("member.id"), info={"erase": "unlink"})
    original_receipt_id: Mapped[int | None] = mapped_column(ForeignKey("receipt.id"))
    total: Mapped[Decimal] = mapped_column(Money)
    discount_total: Mapped[Decimal] = mapped_column(Money)
    line_count: Mapped[int]
    payments: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    content_hash: Mapped[str] = mapped_column(String(64))
    response: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    source: Mapped[str] = mapped_column(String(10), default="till")
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ReceiptLine(Base):
    """A product line of a receipt; a return line is negative and names the line it returns."""

    __tablename__ = "receipt_line"
    __table_args__ = (
        UniqueConstraint("receipt_id", "line_no"),
        # Only return lines have an original: sale lines write no entry.
        Index(
            "ix_receipt_line_original_line_id",
            "original_line_id",
            postgresql_where=text("original_line_id IS NOT NULL"),
            sqlite_where=text("original_line_id IS NOT NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    receipt_id: Mapped[int] = mapped_column(ForeignKey("receipt.id", ondelete="CASCADE"))
    line_no: Mapped[int]
    # Not indexed alone: lines are read by receipt or in time windows from ``receipt``.
    product_id: Mapped[int] = mapped_column(ForeignKey("product.id"))
    quantity: Mapped[Decimal] = mapped_column(Quantity)
    unit_price: Mapped[Decimal] = mapped_column(Money)
    discount: Mapped[Decimal] = mapped_column(Money)
    amount: Mapped[Decimal] = mapped_column(Money)
    original_line_id: Mapped[int | None] = mapped_column(ForeignKey("receipt_line.id"))
