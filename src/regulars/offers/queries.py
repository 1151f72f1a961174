"""Reads of the offers domain: deals, cycles, lists with their reasons, funding statements."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from regulars.catalog.models import Manufacturer, Product
from regulars.core.errors import InvalidInput, NotFound
from regulars.core.i18n import _, translate
from regulars.core.uow import UnitOfWork
from regulars.offers.models import Deal, ListCycle, ListItem, PersonalList, Redemption
from regulars.offers.schemas import ListItemRead, ListRead


def deals_list(
    session: Session, *, active_only: bool = False, limit: int = 200, offset: int = 0
) -> list[Deal]:
    """Deals, newest first."""
    query = select(Deal)
    if active_only:
        query = query.where(Deal.active.is_(True))
    return list(session.scalars(query.order_by(Deal.id.desc()).limit(limit).offset(offset)))


def cycles_list(session: Session, *, limit: int = 50) -> list[ListCycle]:
    """Cycles, newest first."""
    return list(
        session.scalars(select(ListCycle).order_by(ListCycle.starts_on.desc()).limit(limit))
    )


def cycle_get(session: Session, *, cycle_id: int) -> ListCycle:
    """A cycle by id, or ``NotFound``."""
    found = session.get(ListCycle, cycle_id)
    if found is None:
        raise NotFound(_("cycle {id} not found"), field="cycle_id", id=cycle_id)
    return found


def list_get(session: Session, *, list_id: int) -> PersonalList:
    """A list by id, or ``NotFound``."""
    found = session.get(PersonalList, list_id)
    if found is None:
        raise NotFound(_("list {id} not found"), field="list_id", id=list_id)
    return found


def member_lists(session: Session, *, member_id: int, limit: int = 20) -> list[PersonalList]:
    """A member's lists and control entries, newest first."""
    return list(
        session.scalars(
            select(PersonalList)
            .where(PersonalList.member_id == member_id)
            .order_by(PersonalList.valid_from.desc(), PersonalList.id.desc())
            .limit(limit)
        )
    )


def member_current_list(session: Session, *, member_id: int, at: datetime) -> PersonalList | None:
    """The member's list valid at ``at`` (the newest if cycles overlap), or ``None``."""
    return session.scalars(
        select(PersonalList)
        .where(
            PersonalList.member_id == member_id,
            PersonalList.group == "list",
            PersonalList.valid_from <= at,
            PersonalList.valid_to > at,
        )
        .order_by(PersonalList.valid_from.desc(), PersonalList.id.desc())
    ).first()


def reason_text(item: ListItem, locale: str | None) -> str:
    """An item's reason in ``locale``, its parameters filled in."""
    try:
        return translate(item.reason_message, locale, **item.reason_params)
    except (KeyError, IndexError, ValueError):
        # A message and parameters that no longer agree must not break a member's page.
        return translate(item.reason_message, locale)


def product_name(product: Product | None, locale: str | None) -> str | None:
    """A product's name in the reader's language, falling back to the other one or the SKU."""
    if product is None:
        return None
    if locale and locale.startswith("zh"):
        return product.name_zh or product.name_en or product.sku
    return product.name_en or product.name_zh or product.sku


def list_view(uow: UnitOfWork, *, list_id: int, locale: str | None) -> ListRead:
    """A list with its items, product names and reasons in ``locale``."""
    row = list_get(uow.session, list_id=list_id)
    items = list(
        uow.session.scalars(
            select(ListItem).where(ListItem.list_id == row.id).order_by(ListItem.position)
        )
    )
    products = {
        p.id: p
        for p in uow.session.scalars(
            select(Product).where(Product.id.in_([i.product_id for i in items]))
        )
    }
    return ListRead(
        id=row.id,
        cycle_id=row.cycle_id,
        member_id=row.member_id,
        group=row.group,
        personalised=row.personalised,
        code=row.code,
        valid_from=row.valid_from,
        valid_to=row.valid_to,
        budget=row.budget,
        items=[
            ListItemRead(
                id=i.id,
                position=i.position,
                product_id=i.product_id,
                product_name=product_name(products.get(i.product_id), locale),
                category=i.category,
                deal_id=i.deal_id,
                kind=i.kind,
                value=i.value,
                buy_qty=i.buy_qty,
                get_qty=i.get_qty,
                max_discount=i.max_discount,
                reason=reason_text(i, locale),
                reason_code=i.reason_code,
                reason_params=dict(i.reason_params),
                status=i.status,
            )
            for i in items
        ],
    )


@dataclass(frozen=True)
class CycleRedemption:
    """How much of a cycle's lists was redeemed."""

    cycle_id: int
    lists: int
    items: int
    redeemed_items: int
    lists_redeeming: int
    discount: Decimal

    @property
    def item_rate(self) -> float:
        """Share of list items redeemed."""
        return self.redeemed_items / self.items if self.items else 0.0

    @property
    def list_rate(self) -> float:
        """Share of lists with at least one redemption."""
        return self.lists_redeeming / self.lists if self.lists else 0.0


def cycle_redemption(session: Session, *, cycle_id: int) -> CycleRedemption:
    """Redemption counts and rates of one cycle."""
    lists_n = int(
        session.scalar(
            select(func.count(PersonalList.id)).where(
                PersonalList.cycle_id == cycle_id, PersonalList.group == "list"
            )
        )
        or 0
    )
    items_n, redeemed_n = session.execute(
        select(
            func.count(ListItem.id),
            func.count(ListItem.id).filter(ListItem.status == "redeemed"),
        )
        .join(PersonalList, PersonalList.id == ListItem.list_id)
        .where(PersonalList.cycle_id == cycle_id)
    ).one()
    redeeming, total = session.execute(
        select(func.count(func.distinct(Redemption.list_id)), func.sum(Redemption.amount))
        .join(PersonalList, PersonalList.id == Redemption.list_id)
        .where(PersonalList.cycle_id == cycle_id)
    ).one()
    return CycleRedemption(
        cycle_id=cycle_id,
        lists=lists_n,
        items=int(items_n or 0),
        redeemed_items=int(redeemed_n or 0),
        lists_redeeming=int(redeeming or 0),
        discount=total if total is not None else Decimal("0"),
    )


@dataclass(frozen=True)
class StatementLine:
    """One deal's cost on lists over a period, and the manufacturer's part of it."""

    manufacturer_code: str | None
    manufacturer_name: str | None
    deal_code: str
    deal_title: str
    redemptions: int
    amount: Decimal
    manufacturer_amount: Decimal
    store_amount: Decimal


def funding_statement(
    session: Session,
    *,
    start: datetime,
    end: datetime,
    manufacturer_id: int | None = None,
) -> list[StatementLine]:
    """What each deal's list redemptions cost in [start, end), per manufacturer.

    Store-funded list discounts (no deal) appear as one line without a manufacturer.
    """
    query = (
        select(Redemption, Deal, Manufacturer)
        .outerjoin(Deal, Deal.id == Redemption.deal_id)
        .outerjoin(Manufacturer, Manufacturer.id == Redemption.manufacturer_id)
        .where(Redemption.redeemed_at >= start, Redemption.redeemed_at < end)
    )
    if manufacturer_id is not None:
        query = query.where(Redemption.manufacturer_id == manufacturer_id)
    grouped: dict[tuple[str | None, str], list[Decimal | int | str | None]] = {}
    for red, deal, maker in session.execute(query.order_by(Redemption.id)):
        key = (maker.code if maker else None, deal.code if deal else "")
        acc = grouped.setdefault(
            key,
            [
                maker.name if maker else None,
                deal.title if deal else "",
                0,
                Decimal("0"),
                Decimal("0"),
                Decimal("0"),
            ],
        )
        acc[2] = int(acc[2] or 0) + 1
        acc[3] = Decimal(str(acc[3])) + red.amount
        acc[4] = Decimal(str(acc[4])) + red.manufacturer_amount
        acc[5] = Decimal(str(acc[5])) + red.store_amount
    return [
        StatementLine(
            manufacturer_code=code,
            manufacturer_name=str(acc[0]) if acc[0] is not None else None,
            deal_code=deal_code,
            deal_title=str(acc[1]),
            redemptions=int(acc[2] or 0),
            amount=Decimal(str(acc[3])),
            manufacturer_amount=Decimal(str(acc[4])),
            store_amount=Decimal(str(acc[5])),
        )
        for (code, deal_code), acc in sorted(
            grouped.items(), key=lambda kv: (kv[0][0] or "", kv[0][1])
        )
    ]


#: The days a statement's period may span: those a chain can mean (``core.schemas.Day``)
#: and the day after the last. Within them the period's ends, the thirty days before the
#: end and each end's local day always exist, which they do not near year 1 or 9999.
PERIOD_DAYS = (date(1900, 1, 1), date(2200, 1, 1))
#: The period when only its end is given: the days before it.
DEFAULT_PERIOD = timedelta(days=30)


def period_check(day: date, *, field: str) -> None:
    """Refuse a period's end (``field``: ``start`` or ``end``) on a day past ``PERIOD_DAYS``."""
    first, last = PERIOD_DAYS
    if not first <= day <= last:
        raise InvalidInput(
            _("the period must lie between {first} and {last}"),
            field=field,
            first=first.isoformat(),
            last=last.isoformat(),
        )


def statement(
    session: Session,
    *,
    start: datetime | None,
    end: datetime,
    manufacturer_code: str | None = None,
) -> list[StatementLine]:
    """The funding statement for a period, of one manufacturer (by code) or all.

    ``start`` left out is ``DEFAULT_PERIOD`` before ``end``.
    """
    for field, value in (("start", start), ("end", end)):
        if value is None:
            continue
        if value.tzinfo is None:
            raise InvalidInput(_("dates must carry a time zone (e.g. +08:00 or Z)"), field=field)
        period_check(value.date(), field=field)
    start = end - DEFAULT_PERIOD if start is None else start
    if end <= start:
        raise InvalidInput(_("the end must be after the start"), field="end")
    maker_id = None
    if manufacturer_code:
        maker = session.scalars(
            select(Manufacturer).where(Manufacturer.code == manufacturer_code)
        ).first()
        if maker is None:
            raise InvalidInput(
                _("manufacturer {code} not found"), field="manufacturer", code=manufacturer_code
            )
        maker_id = maker.id
    return funding_statement(session, start=start, end=end, manufacturer_id=maker_id)


# How many of a member's earlier lists the profile panel names (the API gives them all).
EARLIER_SHOWN = 5


@dataclass(frozen=True)
class EarlierList:
    """A list of the member's from an earlier cycle, as the profile panel's table row."""

    row: PersonalList
    starts_on: date
    items: int
    redeemed: int


def earlier_lists(
    session: Session, *, member_id: int, at: datetime, current: PersonalList | None
) -> list[EarlierList]:
    """The member's lists (and control entries) begun before ``at`` other than ``current``,
    newest first, with how many items each had and how many were redeemed: what staff ask
    when a member says last fortnight's offer did not work."""
    query = (
        select(PersonalList, ListCycle.starts_on)
        .join(ListCycle, ListCycle.id == PersonalList.cycle_id)
        .where(PersonalList.member_id == member_id, PersonalList.valid_from <= at)
        .order_by(PersonalList.valid_from.desc(), PersonalList.id.desc())
        .limit(EARLIER_SHOWN)
    )
    if current is not None:
        query = query.where(PersonalList.id != current.id)
    found = [(row, starts_on) for row, starts_on in session.execute(query)]
    counts = {
        list_id: (int(items), int(redeemed))
        for list_id, items, redeemed in session.execute(
            select(
                ListItem.list_id,
                func.count(ListItem.id),
                func.count(ListItem.id).filter(ListItem.status == "redeemed"),
            )
            .where(ListItem.list_id.in_([row.id for row, _s in found]))
            .group_by(ListItem.list_id)
        )
    }
    return [EarlierList(row, starts_on, *counts.get(row.id, (0, 0))) for row, starts_on in found]
