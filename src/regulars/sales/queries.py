"""Reads of the sales domain."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session, aliased

from regulars.catalog.models import Product, Store, Terminal
from regulars.core.errors import NotFound
from regulars.core.i18n import _
from regulars.sales.models import Receipt, ReceiptLine
from regulars.sales.schemas import (
    LineDetail,
    LineRead,
    ReceiptDetail,
    ReceiptFound,
    ReceiptRead,
    ReceiptRef,
)


def receipts_of_member(
    session: Session,
    *,
    member_id: int,
    store_ids: Collection[int] | None = None,
    limit: int = 50,
    offset: int = 0,
) -> list[Receipt]:
    """A member's receipts, newest first (the profile timeline); of ``store_ids`` only
    when given (``staff.rules.store_scope``)."""
    query = select(Receipt).where(Receipt.member_id == member_id)
    if store_ids is not None:
        query = query.where(Receipt.store_id.in_(list(store_ids)))
    return list(
        session.scalars(
            query.order_by(Receipt.occurred_at.desc(), Receipt.id.desc())
            .limit(limit)
            .offset(offset)
        )
    )


def receipts_elsewhere(session: Session, *, member_id: int, store_ids: Collection[int]) -> int:
    """How many of a member's receipts are at stores other than ``store_ids``."""
    query = select(func.count()).where(
        Receipt.member_id == member_id, Receipt.store_id.not_in(list(store_ids))
    )
    return int(session.scalar(query) or 0)


#: How a receipt joins its till. A till belongs to one store and so does its receipt,
#: so the store is part of the join: a search by receipt number then probes the receipt
#: key's index (store, terminal, number) once per till instead of reading every index
#: entry of each store (PostgreSQL, 2 million receipts: 0.87 ms instead of 6.89 ms,
#: ``benchmarks/receipt_lookup.py``). No index is added, so no till pays for it.
TILL_OF_RECEIPT = (Terminal.id == Receipt.terminal_id) & (Terminal.store_id == Receipt.store_id)


def receipt_find(
    session: Session,
    *,
    receipt_no: str | None = None,
    store_code: str | None = None,
    terminal_code: str | None = None,
    member_id: int | None = None,
    store_ids: Collection[int] | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int = 50,
    offset: int = 0,
) -> list[ReceiptFound]:
    """Receipts (sales and returns) with this exact number and/or at this store and
    terminal and/or of this member, at or after ``since`` and before ``until``, newest
    first (``limit`` from ``offset``), with their store and terminal codes; ``store_ids``
    keeps those stores' receipts only (``None``: every store)."""
    query = (
        select(Receipt, Store.code, Terminal.code)
        .join(Store, Store.id == Receipt.store_id)
        .join(Terminal, TILL_OF_RECEIPT)
        .order_by(Receipt.occurred_at.desc(), Receipt.id.desc())
        .limit(limit)
        .offset(offset)
    )
    if receipt_no is not None:
        query = query.where(Receipt.receipt_no == receipt_no)
    if store_code is not None:
        query = query.where(Store.code == store_code)
    if terminal_code is not None:
        query = query.where(Terminal.code == terminal_code)
    if member_id is not None:
        query = query.where(Receipt.member_id == member_id)
    if store_ids is not None:
        query = query.where(Receipt.store_id.in_(list(store_ids)))
    if since is not None:
        query = query.where(Receipt.occurred_at >= since)
    if until is not None:
        query = query.where(Receipt.occurred_at < until)
    return [
        ReceiptFound(
            id=r.id,
            store_id=r.store_id,
            store=store,
            terminal_id=r.terminal_id,
            terminal=terminal,
            receipt_no=r.receipt_no,
            kind=r.kind,
            occurred_at=r.occurred_at,
            member_id=r.member_id,
            total=r.total,
            line_count=r.line_count,
            source=r.source,
        )
        for r, store, terminal in session.execute(query)
    ]


def receipt_detail(
    session: Session, *, receipt_id: int, store_ids: Collection[int] | None = None
) -> ReceiptDetail:
    """A receipt with its store and terminal, lines (with the quantity returned of each
    sale line), the returns recorded against it and, for a return, its original.

    Three reads whatever the size of the receipt. A receipt outside ``store_ids`` (when
    given) is ``NotFound`` like a missing one, so ids of other stores cannot be probed.
    """
    original = aliased(Receipt)
    head = session.execute(
        select(
            Receipt,
            Store.code,
            Terminal.code,
            original.id,
            original.receipt_no,
            original.occurred_at,
            original.total,
        )
        .join(Store, Store.id == Receipt.store_id)
        .join(Terminal, Terminal.id == Receipt.terminal_id)
        .outerjoin(original, original.id == Receipt.original_receipt_id)
        .where(Receipt.id == receipt_id)
    ).first()
    if head is None or (store_ids is not None and head[0].store_id not in store_ids):
        raise NotFound(_("receipt {id} not found"), field="receipt_id", id=receipt_id)
    receipt, store, terminal, sold_id, sold_no, sold_at, sold_total = head
    returned_line = aliased(ReceiptLine)
    returned = (
        select(func.coalesce(func.sum(returned_line.quantity), 0))
        .where(returned_line.original_line_id == ReceiptLine.id)
        .correlate(ReceiptLine)
        .scalar_subquery()
    )
    rows = session.execute(
        select(
            ReceiptLine, Product.name_zh, Product.name_en, Product.barcode, Product.sku, returned
        )
        .join(Product, Product.id == ReceiptLine.product_id)
        .where(ReceiptLine.receipt_id == receipt_id)
        .order_by(ReceiptLine.line_no)
    )
    lines = [
        LineDetail(
            **LineRead.model_validate(line).model_dump(),
            name_zh=name_zh,
            name_en=name_en,
            barcode=barcode,
            sku=sku,
            # Return lines are negative: the sale line's returned quantity is their opposite.
            returned=-Decimal(back) if back else Decimal("0"),
        )
        for line, name_zh, name_en, barcode, sku, back in rows
    ]
    returns = [
        ReceiptRef(id=ref_id, receipt_no=no, occurred_at=at, total=total)
        for ref_id, no, at, total in session.execute(
            select(Receipt.id, Receipt.receipt_no, Receipt.occurred_at, Receipt.total)
            .where(Receipt.original_receipt_id == receipt_id)
            .order_by(Receipt.occurred_at, Receipt.id)
        )
    ]
    sold = None
    if sold_id is not None:
        sold = ReceiptRef(id=sold_id, receipt_no=sold_no, occurred_at=sold_at, total=sold_total)
    return ReceiptDetail(
        **ReceiptRead.model_validate(receipt).model_dump(exclude={"lines"}),
        store=store,
        terminal=terminal,
        recorded_at=receipt.recorded_at,
        lines=lines,
        returns=returns,
        original=sold,
    )
