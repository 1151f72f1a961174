"""Reads of the loyalty domain: a member's points, history, coupons, and the ledger check."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from regulars.core.timeutil import utcnow
from regulars.core.uow import UnitOfWork
from regulars.loyalty import rules
from regulars.loyalty.models import MemberCoupon, PointsAccount, PointsLine
from regulars.loyalty.programme import programme_config, programme_get
from regulars.loyalty.schemas import PointsSummary
from regulars.members.queries import member_get

EXPIRING_SOON = timedelta(days=30)


def points_summary(
    uow: UnitOfWork, *, member_id: int, now: datetime | None = None
) -> PointsSummary:
    """Balance, available and pending points, points expiring soon, tier and progress."""
    now = now or utcnow()
    member_get(uow.session, member_id=member_id)
    config = programme_config(uow.session, programme_get(uow))
    account = uow.session.scalars(
        select(PointsAccount).where(PointsAccount.member_id == member_id)
    ).first()
    lots = list(
        uow.session.execute(
            select(PointsLine.remaining, PointsLine.available_at, PointsLine.expires_at).where(
                PointsLine.member_id == member_id, PointsLine.remaining > 0
            )
        )
    )
    live = [lot for lot in lots if lot.expires_at is None or lot.expires_at > now]
    available = sum(lot.remaining for lot in live if lot.available_at <= now)
    pending = sum(lot.remaining for lot in live if lot.available_at > now)
    soon = now + EXPIRING_SOON
    expiring = sum(lot.remaining for lot in live if lot.expires_at and lot.expires_at <= soon)
    tier = config.tier(account.tier_code) if account else config.lowest
    spend = account.qualifying_spend if account else Decimal("0")
    above = rules.next_tier(tier.code, config.tiers)
    return PointsSummary(
        member_id=member_id,
        balance=account.balance if account else 0,
        available=available,
        pending=pending,
        debt=account.debt if account else 0,
        expiring_soon=expiring,
        expiring_by=soon,
        lifetime_earned=account.lifetime_earned if account else 0,
        tier=tier.code,
        tier_name=tier.name,
        tier_since=account.tier_since if account else None,
        qualifying_spend=spend,
        next_tier=above.code if above else None,
        next_tier_name=above.name if above else None,
        spend_to_next_tier=max(Decimal("0"), above.threshold - spend) if above else None,
    )


def points_history(
    session: Session, *, member_id: int, limit: int = 100, offset: int = 0
) -> list[PointsLine]:
    """A member's ledger lines, newest first."""
    return list(
        session.scalars(
            select(PointsLine)
            .where(PointsLine.member_id == member_id)
            .order_by(PointsLine.created_at.desc(), PointsLine.id.desc())
            .limit(limit)
            .offset(offset)
        )
    )


def ledger_check(session: Session, *, member_id: int) -> list[str]:
    """Recompute a member's position from the ledger; every disagreement found, or ``[]``.

    Checks: the cached balance is the sum of the lines and is never negative; the cached
    debt is the sum of the lines' debt; every lot's points minus what other lines took from
    it is exactly its ``remaining`` (so no point was spent twice) and never negative; the
    lots' remaining points add up to the balance; no redemption took points from a lot
    that had expired or was still pending.
    """
    problems: list[str] = []
    account = session.scalars(
        select(PointsAccount).where(PointsAccount.member_id == member_id)
    ).first()
    total, debt = session.execute(
        select(
            func.coalesce(func.sum(PointsLine.points), 0),
            func.coalesce(func.sum(PointsLine.debt), 0),
        ).where(PointsLine.member_id == member_id)
    ).one()
    balance = account.balance if account else 0
    if int(total) != balance:
        problems.append(f"balance {balance} != ledger sum {total}")
    if balance < 0:
        problems.append(f"balance {balance} is negative")
    if account is not None and int(debt) != account.debt:
        problems.append(f"debt {account.debt} != ledger debt {debt}")
    if int(debt) < 0:
        problems.append(f"debt {debt} is negative")
    lots = {
        line.id: line
        for line in session.scalars(
            select(PointsLine).where(
                PointsLine.member_id == member_id,
                PointsLine.kind.in_(rules.POSITIVE_KINDS),
                PointsLine.points > 0,
            )
        )
    }
    if sum(lot.remaining for lot in lots.values()) != balance:
        problems.append(f"lots hold {sum(lot.remaining for lot in lots.values())} != {balance}")
    taken: dict[int, int] = {}
    consumers = session.scalars(
        select(PointsLine).where(PointsLine.member_id == member_id, PointsLine.points < 0)
    )
    for line in consumers:
        allocation = {int(k): int(v) for k, v in line.detail.get("lots", {}).items()}
        if sum(allocation.values()) != -line.points:
            problems.append(f"line {line.id} took {allocation} for {line.points}")
        for lot_id, n in allocation.items():
            taken[lot_id] = taken.get(lot_id, 0) + n
            lot = lots.get(lot_id)
            if lot is None:
                problems.append(f"line {line.id} took from unknown lot {lot_id}")
                continue
            if line.kind == "redeem" and (
                (lot.expires_at is not None and lot.expires_at <= line.created_at)
                or (lot.available_at is not None and lot.available_at > line.created_at)
            ):
                problems.append(f"redemption {line.id} spent lot {lot_id} out of its dates")
    for lot in lots.values():
        if lot.remaining < 0:
            problems.append(f"lot {lot.id} remaining {lot.remaining} < 0")
        if lot.points - taken.get(lot.id, 0) != lot.remaining:
            problems.append(
                f"lot {lot.id}: {lot.points} - {taken.get(lot.id, 0)} != remaining {lot.remaining}"
            )
    return problems


def coupon_state(coupon: MemberCoupon, now: datetime | None = None) -> str:
    """The coupon's state as a member sees it: an unused coupon past its date is expired
    even before the nightly job marks it."""
    if coupon.status == "issued" and coupon.valid_to <= (now or utcnow()):
        return "expired"
    return coupon.status


def coupons_of_member(session: Session, *, member_id: int, limit: int = 100) -> list[MemberCoupon]:
    """A member's coupons, newest first."""
    return list(
        session.scalars(
            select(MemberCoupon)
            .where(MemberCoupon.member_id == member_id)
            .order_by(MemberCoupon.issued_at.desc(), MemberCoupon.id.desc())
            .limit(limit)
        )
    )


def coupons_usable(
    session: Session, *, member_id: int, now: datetime | None = None
) -> list[MemberCoupon]:
    """The member's coupons a till can honour now, soonest-ending first."""
    now = now or utcnow()
    return list(
        session.scalars(
            select(MemberCoupon)
            .where(
                MemberCoupon.member_id == member_id,
                MemberCoupon.status == "issued",
                MemberCoupon.valid_from <= now,
                MemberCoupon.valid_to > now,
            )
            .order_by(MemberCoupon.valid_to, MemberCoupon.id)
        )
    )


def coupon_by_code(session: Session, *, code: str) -> MemberCoupon | None:
    """A coupon by its code as typed or scanned."""
    wanted = rules.coupon_code_normalise(code)
    return session.scalars(select(MemberCoupon).where(MemberCoupon.code == wanted)).first()


def coupons_recent(
    session: Session, *, status: str | None = None, limit: int = 100
) -> list[MemberCoupon]:
    """The newest coupons of every member (optionally in one state), for the staff list."""
    query = select(MemberCoupon)
    if status:
        query = query.where(MemberCoupon.status == status)
    return list(
        session.scalars(
            query.order_by(MemberCoupon.issued_at.desc(), MemberCoupon.id.desc()).limit(limit)
        )
    )
