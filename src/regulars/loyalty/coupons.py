"""Writes of member coupons: issuing (birthday, points, compensation), void, expiry, merges.

A coupon belongs to one member (there are no bearer coupons: a code read off someone
else's phone is refused at the till), carries its terms (amount off with a minimum spend,
percent off with a cap, or a gift) and its validity, and is used once. Services flush but
never commit; every function that spends points locks the member's account first, like
the rest of the ledger (:mod:`regulars.loyalty.ledger`). The till's part is in
:mod:`regulars.loyalty.coupons_till`.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlalchemy import Table, and_, select, update

from regulars.core.config import get_settings
from regulars.core.errors import InvalidInput, NotFound, RuleViolation
from regulars.core.i18n import _
from regulars.core.timeutil import utcnow
from regulars.core.uow import UnitOfWork
from regulars.loyalty import ledger, rules
from regulars.loyalty.models import LoyaltyReward, MemberCoupon, PointsLine
from regulars.loyalty.programme import (
    programme_view,
    reward_by_code,
    reward_get,
)
from regulars.loyalty.schemas import CouponIssueIn

COUPON: Table = MemberCoupon.metadata.tables[MemberCoupon.__tablename__]
REWARD: Table = LoyaltyReward.metadata.tables[LoyaltyReward.__tablename__]
BIRTHDAY_TITLE = _("Birthday coupon")
COMPENSATION_TITLE = _("Compensation coupon")


def coupon_issue(
    uow: UnitOfWork,
    *,
    member_id: int,
    kind: str,
    value: Decimal,
    max_discount: Decimal | None,
    min_spend: Decimal,
    valid_from: datetime,
    valid_to: datetime,
    title: str,
    source: str,
    actor: str,
    reason: str | None = None,
    period: str | None = None,
    reward_id: int | None = None,
    points_line_id: int | None = None,
    now: datetime | None = None,
) -> MemberCoupon:
    """Issue a coupon with a new random code to one member."""
    rules.coupon_terms_check(kind, value, max_discount)
    if valid_to <= valid_from:
        raise InvalidInput(_("a coupon must be valid for some time"), field="valid_days")
    coupon = MemberCoupon(
        # 80 random bits: a collision with one of even a billion codes has a chance of
        # about one in 10^15, so the unique constraint is a backstop, not a retry loop.
        code=rules.coupon_code_new(),
        member_id=member_id,
        kind=kind,
        title=title,
        value=value,
        max_discount=max_discount,
        min_spend=min_spend,
        valid_from=valid_from,
        valid_to=valid_to,
        source=source,
        period=period,
        reward_id=reward_id,
        points_line_id=points_line_id,
        reason=reason,
        actor=actor,
        status="issued",
        issued_at=now or utcnow(),
    )
    uow.session.add(coupon)
    uow.flush()
    return coupon


def coupon_compensate(
    uow: UnitOfWork, *, member_id: int, data: CouponIssueIn, actor: str, now: datetime | None = None
) -> MemberCoupon:
    """Issue a coupon as compensation (a complaint, a broken promise); the reason is mandatory."""
    now = now or utcnow()
    if not data.reason.strip():
        raise InvalidInput(_("a reason is required"), field="reason")
    return coupon_issue(
        uow,
        member_id=member_id,
        kind=data.kind,
        value=data.value,
        max_discount=data.max_discount,
        min_spend=data.min_spend,
        valid_from=now,
        valid_to=now + timedelta(days=data.valid_days),
        title=data.title or COMPENSATION_TITLE,
        source="compensation",
        actor=actor,
        reason=data.reason.strip(),
        now=now,
    )


def coupon_exchange(
    uow: UnitOfWork,
    *,
    member_id: int,
    actor: str,
    reward_id: int | None = None,
    reward_code: str | None = None,
    now: datetime | None = None,
) -> MemberCoupon:
    """Exchange points for a reward of the catalogue: a redeem line, then the coupon.

    The points come from the member's available lots, soonest-expiring first, as at the
    till; the ledger line names the reward as its source and the coupon names the line.
    A reward with a stock is taken by one conditional update, so two members exchanging
    the last one at once cannot both get it.
    """
    now = now or utcnow()
    if reward_id is not None:
        reward = reward_get(uow, reward_id=reward_id)
    elif reward_code:
        found = reward_by_code(uow, code=reward_code)
        if found is None:
            raise NotFound(_("reward {code} not found"), field="reward_code", code=reward_code)
        reward = found
    else:
        raise InvalidInput(_("name the reward"), field="reward_id")
    programme = programme_view(uow)
    if not programme.active:
        raise RuleViolation(_("the points programme is not active"), field="reward_id")
    if not reward.active or reward.programme_id != programme.id:
        raise RuleViolation(_("reward {name} is not offered"), field="reward_id", name=reward.name)
    account = ledger.account_lock(uow, member_id=member_id, config=programme.config)
    lots = ledger.lots_open(uow, member_id, now=now, spendable=True, need=reward.points)
    available = sum(lot.remaining for lot in lots)
    if reward.points > available:
        raise RuleViolation(
            _("{name} costs {points} points; {available} can be spent"),
            field="reward_id",
            name=reward.name,
            points=reward.points,
            available=available,
        )
    if reward.stock is not None:
        left = uow.session.execute(
            update(REWARD)
            .where(REWARD.c.id == reward.id, REWARD.c.stock > 0)
            .values(stock=REWARD.c.stock - 1)
            .returning(REWARD.c.stock)
        ).first()
        uow.session.expire(reward, ["stock"])
        if left is None:
            raise RuleViolation(
                _("reward {name} is out of stock"), field="reward_id", name=reward.name
            )
    allocation, _short = ledger.lots_take(lots, reward.points)
    line = ledger.line_append(
        uow,
        account,
        kind="redeem",
        points=-reward.points,
        source_type="reward",
        source_id=reward.id,
        reason=_("points exchanged for a reward"),
        actor=actor,
        created_at=now,
        detail={"lots": allocation, "reward": reward.code, "name": reward.name},
    )
    uow.flush()
    return coupon_issue(
        uow,
        member_id=member_id,
        kind=reward.kind,
        value=reward.value,
        max_discount=reward.max_discount,
        min_spend=reward.min_spend,
        valid_from=now,
        valid_to=now + timedelta(days=reward.valid_days),
        title=reward.name,
        source="points",
        actor=actor,
        reward_id=reward.id,
        points_line_id=line.id,
        now=now,
    )


def birthday_window(today: date) -> tuple[datetime, datetime]:
    """The birthday month of ``today`` in the chain's time zone: (first moment, next month)."""
    zone = ZoneInfo(get_settings().timezone)
    start = datetime.combine(today.replace(day=1), time(), tzinfo=zone)
    following = (start + timedelta(days=32)).replace(day=1)
    return start, following


def coupon_birthday(
    uow: UnitOfWork, *, member_id: int, today: date, now: datetime | None = None
) -> MemberCoupon | None:
    """This year's birthday coupon of a member: issued once, valid through the birthday month.

    ``None`` when the programme issues no birthday coupon. Asking again in the same year
    returns the coupon already issued (the unique (member, source, period) constraint
    keeps it to one even if two runs raced).
    """
    programme = programme_view(uow)
    if not programme.active or programme.birthday_coupon_value <= 0:
        return None
    period = str(today.year)
    existing = uow.session.scalars(
        select(MemberCoupon).where(
            MemberCoupon.member_id == member_id,
            MemberCoupon.source == "birthday",
            MemberCoupon.period == period,
        )
    ).first()
    if existing is not None:
        return existing
    start, end = birthday_window(today)
    return coupon_issue(
        uow,
        member_id=member_id,
        kind="amount",
        value=programme.birthday_coupon_value,
        max_discount=None,
        min_spend=programme.birthday_coupon_min_spend,
        valid_from=start,
        valid_to=end,
        title=BIRTHDAY_TITLE,
        source="birthday",
        actor="job",
        period=period,
        now=now,
    )


def coupon_void(
    uow: UnitOfWork, *, coupon_id: int, reason: str, actor: str, now: datetime | None = None
) -> MemberCoupon:
    """Void an unused coupon with a reason; points paid for it come back as a new lot."""
    now = now or utcnow()
    if not reason or not reason.strip():
        raise InvalidInput(_("a reason is required"), field="reason")
    coupon = uow.session.get(MemberCoupon, coupon_id)
    if coupon is None:
        raise NotFound(_("coupon {id} not found"), field="coupon_id", id=coupon_id)
    account = ledger.account_lock(uow, member_id=coupon.member_id)
    uow.session.refresh(coupon)  # its state as of the lock
    if coupon.status != "issued":
        raise RuleViolation(
            _("only an unused coupon can be voided; this one is {status}"),
            field="coupon_id",
            status=coupon.status,
        )
    coupon.status, coupon.voided_at, coupon.void_reason = "void", now, reason.strip()
    if coupon.points_line_id is not None:
        paid = uow.session.get(PointsLine, coupon.points_line_id)
        if paid is not None and paid.points < 0:
            ledger.lot_grant(
                uow,
                account,
                programme_view(uow),
                kind="adjust",
                points=-paid.points,
                earned_at=now,
                now=now,
                source_type="coupon",
                source_id=coupon.id,
                reason=_("points returned for a voided coupon"),
                actor=actor,
            )
    uow.flush()
    return coupon


def coupons_expire(uow: UnitOfWork, *, now: datetime | None = None) -> int:
    """Mark every unused coupon past its validity ``expired``; return how many."""
    now = now or utcnow()
    done = uow.session.execute(
        update(COUPON)
        .where(COUPON.c.status == "issued", COUPON.c.valid_to <= now)
        .values(status="expired")
        .execution_options(synchronize_session=False)
    )
    _expire_loaded(uow)
    return int(getattr(done, "rowcount", 0) or 0)


def _expire_loaded(uow: UnitOfWork) -> None:
    """Expire loaded coupons: Core updates changed their rows underneath the session."""
    for obj in list(uow.session.identity_map.values()):
        if isinstance(obj, MemberCoupon):
            uow.session.expire(obj)


def coupons_merge(uow: UnitOfWork, *, survivor_id: int, merged_id: int) -> None:
    """Before a merge moves the duplicate's coupons: free a birthday year both hold.

    The survivor keeps its own birthday coupon's year; the duplicate's coupon moves too
    (and stays usable) without its year, so the one-per-year constraint still holds.
    """
    held = select(COUPON.c.period).where(
        COUPON.c.member_id == survivor_id, COUPON.c.source == "birthday"
    )
    uow.session.execute(
        update(COUPON)
        .where(
            and_(
                COUPON.c.member_id == merged_id,
                COUPON.c.source == "birthday",
                COUPON.c.period.in_(held),
            )
        )
        .values(period=None)
        .execution_options(synchronize_session=False)
    )
    _expire_loaded(uow)


__all__ = [
    "birthday_window",
    "coupon_birthday",
    "coupon_compensate",
    "coupon_exchange",
    "coupon_issue",
    "coupon_void",
    "coupons_expire",
    "coupons_merge",
]
