"""Redemption of personal lists at the till, inside the receipt's transaction.

Sales calls :func:`receipt_redeem` after it has inserted a receipt's lines; offers never
imports sales, so the receipt is named by its id and its lines are passed as
:class:`TillLine` values. Each receipt line matching an open item of the member's lists
valid at the time of sale gets the item's discount, at most the amount the list planned
for it (so a list never costs more than its budget).

Guarantees, and how:

* An item is redeemed once: ``list_redemption.item_id`` is unique, and a replayed receipt
  never reaches this module (sales returns the stored answer).
* Concurrent receipts of one member serialise on their lists' rows (``SELECT … FOR UPDATE``
  on PostgreSQL; SQLite serialises writers), so the per-member limit is counted safely.
* A deal's budget is charged with one conditional ``UPDATE … WHERE spent + x <= budget``:
  concurrent tills on PostgreSQL re-check the condition after the row lock, so the budget
  can never be overrun (a CHECK constraint backs it up).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, func, select, update

from regulars.core.errors import InvalidInput
from regulars.core.i18n import _
from regulars.core.uow import UnitOfWork
from regulars.members.models import Member
from regulars.offers import rules
from regulars.offers.models import Deal, ListItem, PersonalList, Redemption
from regulars.offers.schemas import ListDiscount


@dataclass(frozen=True)
class TillLine:
    """One line of a receipt as the redemption needs it."""

    line_no: int
    product_id: int
    quantity: Decimal
    unit_price: Decimal
    amount: Decimal


def list_by_code(uow: UnitOfWork, *, code: str) -> PersonalList:
    """The list a till's scanned code names, or ``InvalidInput`` on ``list_code``."""
    found = uow.session.scalars(
        select(PersonalList).where(PersonalList.code == code.upper())
    ).first()
    if found is None:
        raise InvalidInput(_("list {code} not found"), field="list_code", code=code)
    return found


def has_open_list(at: datetime | ColumnElement[datetime]) -> ColumnElement[bool]:
    """Whether the ``member`` row of the enclosing query has a list valid at ``at``.

    A correlated ``EXISTS`` for the till's member read (``also`` of
    :func:`regulars.members.queries.member_for_till`): a member without a list then costs
    the till no statement of this module at all.
    """
    return (
        select(PersonalList.id)
        .where(
            PersonalList.member_id == Member.id,
            PersonalList.group == "list",
            PersonalList.valid_from <= at,
            PersonalList.valid_to > at,
        )
        .exists()
    )


def _lists(
    uow: UnitOfWork, member_id: int, list_code: str | None, at: datetime
) -> list[PersonalList]:
    """The lists valid at ``at`` that the receipt may redeem, locked in id order."""
    query = select(PersonalList).where(
        PersonalList.group == "list",
        PersonalList.valid_from <= at,
        PersonalList.valid_to > at,
    )
    if list_code is not None:
        query = query.where(PersonalList.code == list_code.upper())
    else:
        query = query.where(PersonalList.member_id == member_id)
    return list(uow.session.scalars(query.order_by(PersonalList.id).with_for_update()))


def _charge(uow: UnitOfWork, deal_id: int, amount: Decimal) -> bool:
    """Add ``amount`` to the deal's spend unless that passes its budget; whether it did."""
    result = uow.session.execute(
        update(Deal)
        .where(
            Deal.id == deal_id,
            (Deal.budget.is_(None)) | (Deal.spent + amount <= Deal.budget),
        )
        .values(spent=Deal.spent + amount)
        .execution_options(synchronize_session=False)
    )
    return bool(getattr(result, "rowcount", 0))


def _used(uow: UnitOfWork, member_id: int, deal_id: int) -> int:
    """How many list items of this deal the member has redeemed."""
    return int(
        uow.session.scalar(
            select(func.count(Redemption.id)).where(
                Redemption.member_id == member_id, Redemption.deal_id == deal_id
            )
        )
        or 0
    )


def receipt_redeem(
    uow: UnitOfWork,
    *,
    member_id: int,
    list_code: str | None,
    receipt_id: int,
    occurred_at: datetime,
    lines: Sequence[TillLine],
) -> list[ListDiscount]:
    """Give every receipt line matching an open list item its discount; record each.

    With ``list_code`` only that list counts (it must be the member's); otherwise every
    list of the member valid at ``occurred_at``. A deal that is off, out of dates, over
    its per-member limit or out of budget gives nothing and the item stays open.
    """
    lists = _lists(uow, member_id, list_code, occurred_at)
    if list_code is not None and lists and lists[0].member_id != member_id:
        raise InvalidInput(
            _("list {code} belongs to another member"), field="list_code", code=list_code
        )
    if not lists:
        return []
    items: dict[int, list[ListItem]] = {}
    for item in uow.session.scalars(
        select(ListItem)
        .where(ListItem.list_id.in_([row.id for row in lists]), ListItem.status == "open")
        .order_by(ListItem.list_id, ListItem.position)
    ):
        items.setdefault(item.product_id, []).append(item)
    deals = {
        d.id: d
        for d in uow.session.scalars(
            select(Deal).where(
                Deal.id.in_({i.deal_id for v in items.values() for i in v if i.deal_id})
            )
        )
    }
    given: list[ListDiscount] = []
    for line in lines:
        if line.amount <= 0 or line.quantity <= 0 or not items.get(line.product_id):
            continue
        item = items[line.product_id][0]
        terms = rules.Terms(item.kind, item.value, item.buy_qty, item.get_qty)
        amount = min(
            rules.line_discount(terms, quantity=line.quantity, unit_price=line.unit_price),
            item.max_discount,
            line.amount,
        )
        if amount <= 0:
            continue
        deal = deals.get(item.deal_id) if item.deal_id else None
        if deal is not None:
            if not deal.active or not deal.valid_from <= occurred_at < deal.valid_to:
                continue
            if (
                deal.limit_per_member is not None
                and _used(uow, member_id, deal.id) >= deal.limit_per_member
            ):
                continue
            if not _charge(uow, deal.id, amount):
                continue
        maker, store = rules.split(amount, item.manufacturer_share)
        uow.session.add(
            Redemption(
                item_id=item.id,
                list_id=item.list_id,
                member_id=member_id,
                deal_id=item.deal_id,
                manufacturer_id=deal.manufacturer_id if deal else None,
                receipt_id=receipt_id,
                line_no=line.line_no,
                amount=amount,
                manufacturer_amount=maker,
                store_amount=store,
                redeemed_at=occurred_at,
            )
        )
        item.status = "redeemed"
        items[line.product_id].pop(0)
        given.append(
            ListDiscount(
                line_no=line.line_no,
                product_id=line.product_id,
                list_item_id=item.id,
                deal_id=item.deal_id,
                amount=amount,
            )
        )
    uow.flush()
    return given


def answer_part(discounts: Sequence[ListDiscount]) -> dict[str, Any]:
    """What the receipt's answer says about the list: each discount and their total."""
    total = sum((d.amount for d in discounts), Decimal("0"))
    return {
        "list_discounts": [d.model_dump(mode="json") for d in discounts],
        "list_discount_total": str(total),
    }
