"""Writes of the loyalty domain: the ledger. Services flush but never commit.

The till's part (a receipt's coupons, redemption and earning) lives in
:mod:`regulars.loyalty.till`, a return's reversal in :mod:`regulars.loyalty.returns`; both
are re-exported here. Coupons are in :mod:`regulars.loyalty.coupons`.

Every function that changes a member's points first locks the member's
``points_account`` row (``SELECT … FOR UPDATE`` on PostgreSQL; SQLite serialises
writers), always before touching lots, and several accounts in ascending member id —
so concurrent redemptions, returns, expiry and merges serialise instead of overspending.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, time
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select

from regulars.core.errors import InvalidInput, RuleViolation
from regulars.core.i18n import _
from regulars.core.timeutil import as_utc, utcnow
from regulars.core.uow import UnitOfWork
from regulars.loyalty import ledger, rules
from regulars.loyalty.coupons import coupons_merge
from regulars.loyalty.models import PointsAccount, PointsLine
from regulars.loyalty.programme import programme_config, programme_get
from regulars.loyalty.returns import return_points
from regulars.loyalty.till import (
    AnswerTo,
    LockedRow,
    LockJoin,
    TillLine,
    TillPlan,
    account_lock,
    lock_join,
    plan_write,
    planned,
    points_before,
    receipt_plan,
    receipt_points,
    receipt_writes,
)
from regulars.members.models import Member

# --- staff and scheduled work -------------------------------------------------------------


# The most points one staff line moves (the API's ``schemas.Points`` bound).
ADJUST_LIMIT = 10_000_000


def points_adjust(
    uow: UnitOfWork,
    *,
    member_id: int,
    points: int,
    kind: str,
    reason: str,
    actor: str,
    source_type: str = "staff",
    source_id: int | None = None,
    now: datetime | None = None,
) -> PointsLine:
    """Add (adjust, compensate) or take away (adjust) points, with a mandatory reason.

    Added points are spendable at once and expire like earned points; taken points come
    from the soonest-expiring lots and never more than the member holds.
    """
    now = now or utcnow()
    if not reason or not reason.strip():
        raise InvalidInput(_("a reason is required"), field="reason")
    if kind not in ("adjust", "compensate"):
        raise InvalidInput(_("unknown kind {kind}"), field="kind", kind=kind)
    if points == 0 or (kind == "compensate" and points < 0):
        raise InvalidInput(
            _("points must be positive (or negative for an adjustment)"), field="points"
        )
    if abs(points) > ADJUST_LIMIT:
        # Checked here for every caller (page, API, CLI, files): a larger number is a typo,
        # and past the ledger's integer columns it would fail at the database.
        raise InvalidInput(
            _("at most {limit} points in one line"), field="points", limit=ADJUST_LIMIT
        )
    programme = programme_get(uow)
    account = ledger.account_lock(uow, member_id=member_id)
    common: dict[str, Any] = {
        "source_type": source_type,
        "source_id": source_id,
        "reason": reason,
        "actor": actor,
    }
    if points > 0:
        line = ledger.lot_grant(
            uow, account, programme, kind=kind, points=points, earned_at=now, now=now, **common
        )
    else:
        lots = ledger.lots_open(uow, member_id, now=now, spendable=False)
        held = sum(lot.remaining for lot in lots)
        if -points > held:
            raise RuleViolation(
                _("cannot take {points} points: the member holds {held}"),
                field="points",
                points=-points,
                held=held,
            )
        allocation, _short = ledger.lots_take(lots, -points)
        line = ledger.line_append(
            uow,
            account,
            kind=kind,
            points=points,
            created_at=now,
            detail={"lots": allocation},
            **common,
        )
    uow.flush()
    return line


def points_grant_many(
    uow: UnitOfWork,
    *,
    grants: Sequence[tuple[int, int]],
    reason: str,
    actor: str,
    kind: str = "adjust",
    source_type: str = "staff",
    source_id: int | None = None,
) -> list[PointsLine]:
    """Grant points to many members with one reason (accounts locked in member id order)."""
    return [
        points_adjust(
            uow,
            member_id=member_id,
            points=points,
            kind=kind,
            reason=reason,
            actor=actor,
            source_type=source_type,
            source_id=source_id,
        )
        for member_id, points in sorted(grants)
    ]


def _start_of(today: date) -> datetime:
    return datetime.combine(today, time(), tzinfo=UTC)


def points_expire(uow: UnitOfWork, *, today: date, now: datetime | None = None) -> dict[str, int]:
    """Expire what is left of every lot past its expiry date, one expire line per lot."""
    cutoff = as_utc(now) if now else _start_of(today)
    members = sorted(
        uow.session.scalars(
            select(PointsLine.member_id)
            .where(PointsLine.remaining > 0, PointsLine.expires_at <= cutoff)
            .distinct()
        )
    )
    lines = points = 0
    for member_id in members:
        account = ledger.account_lock(uow, member_id=member_id)
        for lot in uow.session.scalars(
            select(PointsLine)
            .where(
                PointsLine.member_id == member_id,
                PointsLine.remaining > 0,
                PointsLine.expires_at <= cutoff,
            )
            .order_by(PointsLine.expires_at, PointsLine.id)
            .execution_options(populate_existing=True)
        ):
            left = lot.remaining
            lot.remaining = 0
            ledger.line_append(
                uow,
                account,
                kind="expire",
                points=-left,
                source_type="expiry",
                source_id=None,
                reason=_("points expired"),
                linked_line_id=lot.id,
                created_at=cutoff,
                detail={"lots": {str(lot.id): left}},
            )
            lines += 1
            points += left
        uow.flush()
    return {"members": len(members), "lines": lines, "points": points}


def tiers_review(uow: UnitOfWork, *, today: date) -> dict[str, int]:
    """Set every member's tier from its rolling 12-month spend: the only time tiers go down."""
    now = _start_of(today)
    config = programme_config(uow.session, programme_get(uow))
    uow.flush()
    survivor_of: dict[int, int] = {
        row.id: int(row.merged_into_id)
        for row in uow.session.execute(
            select(Member.id, Member.merged_into_id).where(Member.merged_into_id.is_not(None))
        )
    }
    spend: dict[int, Decimal] = {}
    for member_id, total in uow.session.execute(
        select(PointsLine.member_id, func.sum(PointsLine.spend))
        .where(PointsLine.created_at >= now - rules.TIER_WINDOW)
        .group_by(PointsLine.member_id)
    ):
        target: int = member_id
        seen: set[int] = set()
        while target in survivor_of and target not in seen:
            seen.add(target)
            target = survivor_of[target]
        spend[target] = spend.get(target, Decimal("0")) + Decimal(total or 0)
    counts = {"reviewed": 0, "upgraded": 0, "downgraded": 0}
    for account in uow.session.scalars(
        select(PointsAccount)
        .order_by(PointsAccount.member_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ):
        counts["reviewed"] += 1
        account.qualifying_spend = max(Decimal("0"), spend.get(account.member_id, Decimal("0")))
        reached = rules.tier_for(account.qualifying_spend, config.tiers)
        current = config.tier(account.tier_code)
        if reached.code != account.tier_code:
            counts["upgraded" if reached.rank > current.rank else "downgraded"] += 1
            account.tier_code, account.tier_since = reached.code, now
    uow.flush()
    return counts


def accounts_merge(
    uow: UnitOfWork, *, survivor_id: int, merged_id: int, now: datetime | None = None
) -> int:
    """Fold a merged duplicate's points into the survivor; return the points transferred.

    Each of the duplicate's lots with points left moves with a transfer pair (out of the
    duplicate, into the survivor) keeping its expiry and pending dates, so first-in
    first-out and the return window still hold; the debt moves the same way. The
    duplicate's history stays on its own (tombstone) record.
    """
    now = now or utcnow()
    if (
        uow.session.scalar(select(PointsAccount.id).where(PointsAccount.member_id == merged_id))
        is None
    ):
        return 0
    first, second = sorted((survivor_id, merged_id))
    accounts = {
        first: ledger.account_lock(uow, member_id=first),
        second: ledger.account_lock(uow, member_id=second),
    }
    survivor, merged = accounts[survivor_id], accounts[merged_id]
    moved = 0
    reason = _("points moved by a member merge")
    for lot in uow.session.scalars(
        select(PointsLine)
        .where(PointsLine.member_id == merged_id, PointsLine.remaining > 0)
        .order_by(PointsLine.id)
        .execution_options(populate_existing=True)
    ):
        left = lot.remaining
        lot.remaining = 0
        common = {
            "kind": "transfer",
            "source_type": "merge",
            "source_id": merged_id,
            "reason": reason,
            "linked_line_id": lot.id,
            "created_at": now,
        }
        ledger.line_append(
            uow, merged, points=-left, detail={"lots": {str(lot.id): left}}, **common
        )
        ledger.line_append(
            uow,
            survivor,
            points=left,
            remaining=left,
            available_at=lot.available_at,
            expires_at=lot.expires_at,
            **common,
        )
        moved += left
    if merged.debt:
        owed = merged.debt
        common = {
            "kind": "debt",
            "points": 0,
            "source_type": "merge",
            "source_id": merged_id,
            "reason": reason,
            "created_at": now,
        }
        ledger.line_append(uow, merged, debt=-owed, **common)
        ledger.line_append(uow, survivor, debt=owed, **common)
    config = programme_config(uow.session, programme_get(uow))
    if config.tier(merged.tier_code).rank > config.tier(survivor.tier_code).rank:
        survivor.tier_code, survivor.tier_since = merged.tier_code, now
    survivor.qualifying_spend += merged.qualifying_spend
    survivor.lifetime_earned += merged.lifetime_earned
    merged.qualifying_spend = Decimal("0")
    merged.lifetime_earned = 0
    if merged.first_earn_at is not None and (
        survivor.first_earn_at is None or merged.first_earn_at < survivor.first_earn_at
    ):
        survivor.first_earn_at = merged.first_earn_at
    uow.flush()
    return moved


def member_merge_hook(uow: UnitOfWork, survivor_id: int, merged_id: int) -> None:
    """Run by ``members.service.member_merge``: fold the duplicate's points account and
    prepare its coupons to move (the merge then moves them with every other row)."""
    accounts_merge(uow, survivor_id=survivor_id, merged_id=merged_id)
    coupons_merge(uow, survivor_id=survivor_id, merged_id=merged_id)


__all__ = [
    "AnswerTo",
    "LockJoin",
    "LockedRow",
    "TillLine",
    "TillPlan",
    "account_lock",
    "accounts_merge",
    "lock_join",
    "member_merge_hook",
    "plan_write",
    "planned",
    "points_adjust",
    "points_before",
    "points_expire",
    "points_grant_many",
    "receipt_plan",
    "receipt_points",
    "receipt_writes",
    "return_points",
    "tiers_review",
]
