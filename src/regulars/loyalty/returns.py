"""Loyalty at a return: the points earned on the returned lines go back.

Returns are rare next to sales, so they use the ORM ledger functions of
:mod:`regulars.loyalty.ledger` (account lock first, as every writer).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select

from regulars.core.i18n import _
from regulars.core.timeutil import utcnow
from regulars.core.uow import UnitOfWork
from regulars.loyalty import ledger, rules
from regulars.loyalty.models import PointsLine
from regulars.loyalty.programme import programme_get


def return_points(
    uow: UnitOfWork,
    *,
    member_id: int,
    source_id: int,
    original_id: int,
    lines: Sequence[tuple[int, Decimal, Decimal]],
    now: datetime | None = None,
) -> dict[str, Any]:
    """Reverse the points earned on returned lines of receipt ``original_id``.

    ``lines`` holds (original line number, share of the line returned so far including
    this return, refunded amount). Each line gets back exactly its share of the points it
    earned; the bonuses go back when the whole receipt has been returned. The points come
    from the receipt's own lot first; if they were already spent, the programme's debt
    policy applies: ``claw_back`` (default) takes them from the rest of the balance,
    soonest-expiring first, ``debt`` does not; whatever cannot be taken is recorded as a
    debt that future points pay first. The balance never goes below zero.

    Coupons used on the original receipt stay used: the refund is what the member paid
    (net of the coupon's discount), so re-issuing the coupon would give the discount twice.
    """
    now = now or utcnow()
    programme = programme_get(uow)
    account = ledger.account_lock(uow, member_id=member_id)
    earn = uow.session.scalars(
        select(PointsLine).where(
            PointsLine.kind == "earn",
            PointsLine.source_type == "receipt",
            PointsLine.source_id == original_id,
        )
    ).first()
    if earn is None:
        available, pending = ledger.position(uow, account, now)
        return {
            "points_earned": 0,
            "balance": available,
            "pending": pending,
            "debt": account.debt,
            "tier": account.tier_code,
            "rewards": [],
        }
    before: dict[str, int] = {}
    fractions: dict[str, Decimal] = {}
    bonus_back = 0
    for prior in uow.session.scalars(
        select(PointsLine).where(PointsLine.kind == "reverse", PointsLine.linked_line_id == earn.id)
    ):
        for key, n in prior.detail.get("lines", {}).items():
            before[key] = before.get(key, 0) + int(n)
        for key, share in prior.detail.get("fractions", {}).items():
            fractions[key] = max(fractions.get(key, Decimal("0")), Decimal(share))
        bonus_back += int(prior.detail.get("bonus", 0))
    now_fractions = {str(no): share for no, share, _refund in lines}
    for key, share in now_fractions.items():
        fractions[key] = max(fractions.get(key, Decimal("0")), share)
    earned_lines: dict[str, int] = {k: int(v) for k, v in earn.detail.get("lines", {}).items()}
    due = rules.reversal_points(earned_lines, now_fractions, before)
    bonus_total = sum(int(v) for v in earn.detail.get("bonus", {}).values())
    whole = all(fractions.get(key, Decimal("0")) >= 1 for key in earned_lines)
    bonus_due = bonus_total - bonus_back if whole else 0
    owed = sum(due.values()) + bonus_due
    refund = sum((r for _no, _share, r in lines), Decimal("0"))
    spend_back = min(refund, max(Decimal("0"), earn.spend))
    allocation: dict[str, int] = {}
    left = owed
    lot = ledger.lot_current(uow, earn, member_id)
    if lot is not None and left > 0 and lot.remaining > 0:
        take = min(lot.remaining, left)
        lot.remaining -= take
        allocation[str(lot.id)] = take
        left -= take
    if left > 0 and programme.debt_policy == "claw_back":
        more, left = ledger.lots_take(
            ledger.lots_open(uow, member_id, now=now, spendable=False), left
        )
        for key, n in more.items():
            allocation[key] = allocation.get(key, 0) + n
    taken = owed - left
    ledger.line_append(
        uow,
        account,
        kind="reverse",
        points=-taken,
        spend=-spend_back,
        source_type="return",
        source_id=source_id,
        reason=_("points of returned goods reversed"),
        linked_line_id=earn.id,
        created_at=now,
        detail={
            "lines": due,
            "fractions": {k: str(v) for k, v in now_fractions.items()},
            "bonus": bonus_due,
            "lots": allocation,
        },
    )
    rewards: list[dict[str, Any]] = [{"code": "points_reversed", "points": -owed}] if owed else []
    if left > 0:
        ledger.line_append(
            uow,
            account,
            kind="debt",
            points=0,
            debt=left,
            source_type="return",
            source_id=source_id,
            reason=_("returned points already spent: owed from future points"),
            linked_line_id=earn.id,
            created_at=now,
        )
        rewards.append({"code": "points_debt", "points": -left})
    account.qualifying_spend = max(Decimal("0"), account.qualifying_spend - spend_back)
    uow.flush()
    available, pending = ledger.position(uow, account, now)
    return {
        "points_earned": -owed,
        "balance": available,
        "pending": pending,
        "debt": account.debt,
        "tier": account.tier_code,
        "rewards": rewards,
    }


__all__ = ["return_points"]
