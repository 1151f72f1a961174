"""Reads of the sales domain."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from regulars.core.errors import NotFound
from regulars.core.i18n import _
from regulars.sales.models import Receipt, ReceiptLine
from regulars.sales.schemas import LineRead, ReceiptRead


def receipt_get(session: Session, *, receipt_id: int) -> ReceiptRead:
    """A receipt with its lines, or ``NotFound``."""
    receipt = session.get(Receipt, receipt_id)
    if receipt is None:
        raise NotFound(_("receipt {id} not found"), field="receipt_id", id=receipt_id)
    lines = session.scalars(
        select(ReceiptLine)
        .where(ReceiptLine.receipt_id == receipt_id)
        .order_by(ReceiptLine.line_no)
    )
    read = ReceiptRead.model_validate(receipt)
    read.lines = [LineRead.model_validate(line) for line in lines]
    return read


def receipts_of_member(
    session: Session, *, member_id: int, limit: int = 50, offset: int = 0
) -> list[Receipt]:
    """A member's receipts, newest first (the profile timeline)."""
    return list(
        session.scalars(
            select(Receipt)
            .where(Receipt.member_id == member_id)
            .order_by(Receipt.occurred_at.desc(), Receipt.id.desc())
            .limit(limit)
            .offset(offset)
        )
    )
