"""What makes two receipts the same checkout, whichever way each of them came in.

A receipt reaches Regulars from a till (the API) or in a file (a bulk import, the demo),
and both keep ``content_hash`` to tell a replay from another receipt under a taken key.
The two hashes are of different texts: the till's is of its request's JSON
(``service.content_hash``), the import's of the file's canonical line
(``imports.receipt_rows``), and neither side can rebuild the other's text (the file
names a member by card where the till sent a mobile number, say). So the hash decides
only between receipts that came in the same way. When the key is taken by a receipt that
came in the other way, the receipt is compared as stored instead:

* the time (to the microsecond, in UTC), the member (after merges), the cashier;
* the payments, in order, by method and amount (a reference is not content);
* the lines, in order, by product, quantity, unit price, discount and amount.

That is the case after an outage, when a till's journal is imported from a file and the
till then replays the same receipts, or when a day's file is imported after its tills
sent most of it: the same checkout is recognised (a replay, or an unchanged row) instead
of being refused as a conflict. Anything a file cannot carry (points redeemed, coupons,
a personal list) makes a till's request differ from an imported receipt.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select

from regulars.core.uow import UnitOfWork
from regulars.sales.models import Receipt, ReceiptLine

__all__ = [
    "TILL",
    "Content",
    "ReturnContent",
    "cents",
    "milli",
    "stored_contents",
    "stored_return",
]

#: The source of receipts whose hash is the till's (``service.content_hash``); every
#: other source (``import``, ``demo``) hashes the file's canonical line.
TILL = "till"

_RECEIPT = Receipt.metadata.tables[Receipt.__tablename__]
_LINE = ReceiptLine.metadata.tables[ReceiptLine.__tablename__]


def cents(amount: Decimal | int | str) -> int:
    """An amount in cents (amounts have at most two decimals)."""
    return int(Decimal(amount) * 100)


def milli(quantity: Decimal | int | str) -> int:
    """A quantity in thousandths (quantities have at most three decimals)."""
    return int(Decimal(quantity) * 1000)


@dataclass(frozen=True)
class Content:
    """A sale as stored, reduced to what makes it the same checkout (see the module).

    ``payments`` are (method, cents); ``lines`` are (product id, quantity in thousandths,
    unit price, discount and amount in cents), both in their receipt's order.
    """

    occurred_at: datetime
    member_id: int | None
    cashier: str | None
    payments: tuple[tuple[str, int], ...]
    lines: tuple[tuple[int, int, int, int, int], ...]

    def __post_init__(self) -> None:
        # One instant compares equal however it was written (zone, naive UTC).
        at = self.occurred_at
        at = at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)
        object.__setattr__(self, "occurred_at", at)


@dataclass(frozen=True)
class ReturnContent:
    """A return as stored, reduced to what makes it the same return at the till.

    The original receipt, the time, the cashier, the payments as for :class:`Content`,
    and its lines in order as (original line id, quantity returned in thousandths,
    refund in cents), both positive. The member is the original's, so not compared.
    """

    occurred_at: datetime
    cashier: str | None
    original_id: int
    payments: tuple[tuple[str, int], ...]
    lines: tuple[tuple[int, int, int], ...]

    def __post_init__(self) -> None:
        at = self.occurred_at
        at = at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)
        object.__setattr__(self, "occurred_at", at)


def payments_of(stored: Sequence[dict[str, Any]] | None) -> tuple[tuple[str, int], ...]:
    """(method, cents) of a receipt's ``payments`` JSON."""
    return tuple((str(p["method"]), cents(str(p["amount"]))) for p in stored or ())


# Ids per statement: an import batch may name thousands, and each is a bound parameter.
CHUNK = 5000


def stored_contents(uow: UnitOfWork, receipt_ids: Sequence[int]) -> dict[int, Content]:
    """The content of the sales ``receipt_ids`` as stored, by id (two statements per
    ``CHUNK`` ids)."""
    ids = sorted(set(receipt_ids))
    found: dict[int, Content] = {}
    for start in range(0, len(ids), CHUNK):
        found.update(_contents(uow, ids[start : start + CHUNK]))
    return found


def _contents(uow: UnitOfWork, ids: list[int]) -> dict[int, Content]:
    lines: dict[int, list[tuple[int, int, int, int, int]]] = {i: [] for i in ids}
    for row in uow.session.execute(
        select(
            _LINE.c.receipt_id,
            _LINE.c.product_id,
            _LINE.c.quantity,
            _LINE.c.unit_price,
            _LINE.c.discount,
            _LINE.c.amount,
        )
        .where(_LINE.c.receipt_id.in_(ids))
        .order_by(_LINE.c.receipt_id, _LINE.c.line_no)
    ):
        lines[row.receipt_id].append(
            (
                int(row.product_id),
                milli(row.quantity),
                cents(row.unit_price),
                cents(row.discount),
                cents(row.amount),
            )
        )
    return {
        int(row.id): Content(
            occurred_at=row.occurred_at,
            member_id=row.member_id,
            cashier=row.cashier,
            payments=payments_of(row.payments),
            lines=tuple(lines[row.id]),
        )
        for row in uow.session.execute(
            select(
                _RECEIPT.c.id,
                _RECEIPT.c.occurred_at,
                _RECEIPT.c.member_id,
                _RECEIPT.c.cashier,
                _RECEIPT.c.payments,
            ).where(_RECEIPT.c.id.in_(ids), _RECEIPT.c.kind == "sale")
        )
    }


def stored_return(uow: UnitOfWork, receipt_id: int) -> ReturnContent | None:
    """The content of the return ``receipt_id`` as stored (``None`` if it is no return)."""
    head = uow.session.execute(
        select(
            _RECEIPT.c.occurred_at,
            _RECEIPT.c.cashier,
            _RECEIPT.c.original_receipt_id,
            _RECEIPT.c.payments,
        ).where(_RECEIPT.c.id == receipt_id, _RECEIPT.c.kind == "return")
    ).first()
    if head is None or head.original_receipt_id is None:
        return None
    lines = uow.session.execute(
        select(_LINE.c.original_line_id, _LINE.c.quantity, _LINE.c.amount)
        .where(_LINE.c.receipt_id == receipt_id)
        .order_by(_LINE.c.line_no)
    )
    return ReturnContent(
        occurred_at=head.occurred_at,
        cashier=head.cashier,
        original_id=int(head.original_receipt_id),
        payments=payments_of(head.payments),
        lines=tuple(
            (int(row.original_line_id), -milli(row.quantity), -cents(row.amount)) for row in lines
        ),
    )
