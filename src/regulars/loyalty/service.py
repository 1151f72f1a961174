"""Writes of the loyalty domain: the ledger. Services flush but never commit.

Every function that changes a member's points first locks the member's
``points_account`` row (``SELECT … FOR UPDATE`` on PostgreSQL; SQLite serialises
writers), always before touching lots, and several accounts in ascending member id —
so concurrent redemptions, returns, expiry and merges serialise instead of overspending.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select

from regulars.catalog.models import Product
from regulars.core.errors import InvalidInput, RuleViolation
from regulars.core.i18n import _
from regulars.core.timeutil import as_utc, utcnow
from regulars.core.uow import UnitOfWork
from regulars.loyalty import ledger, rules
from regulars.loyalty.models import PointsAccount, PointsLine
from regulars.loyalty.programme import Config, programme_config, programme_get
from regulars.members.models import Member


@dataclass(frozen=True)
class TillLine:
    """A receipt line as the till integration hands it over."""

    line_no: int
    product_id: int
    amount: Decimal
    quantity: Decimal


# --- at the till --------------------------------------------------------------------------


def _facts(uow: UnitOfWork, lines: Sequence[TillLine], config: Config) -> list[rules.ItemFacts]:
    """Lines with the product facts the multiplier rules look at (read only when needed)."""
    products: dict[int, tuple[str | None, str | None, tuple[str, ...]]] = {}
    if config.needs_products:
        ids = {line.product_id for line in lines}
        for row in uow.session.execute(
            select(Product.id, Product.category, Product.brand, Product.tags).where(
                Product.id.in_(ids)
            )
        ):
            products[row.id] = (row.category, row.brand, tuple(row.tags or ()))
    facts = []
    for line in lines:
        category, brand, tags = products.get(line.product_id, (None, None, ()))
        facts.append(
            rules.ItemFacts(line.line_no, line.product_id, line.amount, category, brand, tags)
        )
    return facts


def receipt_points(
    uow: UnitOfWork,
    *,
    member_id: int,
    source_id: int,
    occurred_at: datetime,
    lines: Sequence[TillLine],
    redeem: int | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Redeem and earn points for one receipt, in the receipt's transaction.

    Redemption first (so the receipt's own points can never pay for it): the member's
    available points are spent soonest-expiring first, never more than there are and never
    more than the receipt is worth. Then earning on what was really paid, with the tier,
    product and member-day multipliers and the first-purchase and birthday bonuses; the lot
    stays pending through the return window. Returns the fields of the till's answer.
    """
    now = now or utcnow()
    earned_at = min(occurred_at, now)  # a till clock running ahead cannot shorten the window
    programme = programme_get(uow)
    config = programme_config(uow.session, programme)
    account = ledger.account_lock(uow, member_id=member_id, config=config)
    items = _facts(uow, lines, config)
    rewards: list[dict[str, Any]] = []
    redeemed, value = 0, Decimal("0")
    if redeem:
        if not programme.active:
            raise RuleViolation(_("the points programme is not active"), field="redeem_points")
        if redeem < programme.min_redemption:
            raise InvalidInput(
                _("redeem at least {points} points"),
                field="redeem_points",
                points=programme.min_redemption,
            )
        lots = ledger.lots_open(uow, member_id, now=now, spendable=True, need=redeem)
        value = rules.redemption_value(redeem, points_per_unit=programme.redeem_points_per_unit)
        payable = sum((i.amount for i in items), Decimal("0"))
        if value > payable:
            raise InvalidInput(
                _("{points} points are worth {value}, more than the receipt's {total}"),
                field="redeem_points",
                points=redeem,
                value=value,
                total=payable,
            )
        available = sum(lot.remaining for lot in lots)
        if redeem > available:
            raise RuleViolation(
                _("only {available} points can be redeemed"),
                field="redeem_points",
                available=available,
            )
        allocation, _short = ledger.lots_take(lots, redeem)
        ledger.line_append(
            uow,
            account,
            kind="redeem",
            points=-redeem,
            source_type="receipt",
            source_id=source_id,
            reason=_("redeemed at the till"),
            created_at=now,
            detail={"lots": allocation, "value": str(value)},
        )
        redeemed = redeem
        rewards.append({"code": "points_redeemed", "points": -redeem, "amount": str(value)})
    earned = 0
    if programme.active:
        earning = rules.earn_compute(
            items,
            points_per_unit=programme.points_per_unit,
            min_spend=programme.min_spend,
            rules=config.rules,
            tier_multiplier=config.tier(account.tier_code).multiplier,
            day_multiplier=rules.day_multiplier(programme.member_days, occurred_at),
            redeemed_value=value,
        )
        bonus: dict[str, int] = {}
        earns = earning.spend > 0 and earning.spend >= programme.min_spend
        if earns and account.first_earn_at is None and programme.first_purchase_bonus:
            bonus["first_purchase"] = programme.first_purchase_bonus
        member = uow.session.get(Member, member_id)
        birthday = member.birthday if member is not None else None
        if (
            earns
            and programme.birthday_bonus
            and birthday is not None
            and birthday.month == occurred_at.month
            and account.birthday_bonus_year != occurred_at.year
        ):
            bonus["birthday"] = programme.birthday_bonus
            account.birthday_bonus_year = occurred_at.year
        earned = earning.line_points + sum(bonus.values())
        if earned or earning.spend:
            ledger.lot_grant(
                uow,
                account,
                programme,
                kind="earn",
                points=earned,
                earned_at=earned_at,
                now=now,
                available_at=rules.available_at_for(earned_at, pending_days=programme.pending_days),
                spend=earning.spend,
                source_type="receipt",
                source_id=source_id,
                reason=_("earned on a receipt"),
                detail={"lines": {str(k): v for k, v in earning.lines.items()}, "bonus": bonus},
            )
            rewards.extend({"code": code, "points": n} for code, n in bonus.items())
            account.lifetime_earned += earned
            account.qualifying_spend += earning.spend
            if earns and account.first_earn_at is None:
                account.first_earn_at = now
        upgraded = ledger.tier_upgrade(uow, account, config, now)
        if upgraded is not None:
            rewards.append({"code": "tier_upgrade", "tier": upgraded.code})
    uow.flush()
    available, pending = ledger.position(uow, account, now)
    return {
        "points_earned": earned,
        "points_redeemed": redeemed,
        "balance": available,
        "pending": pending,
        "debt": account.debt,
        "tier": account.tier_code,
        "rewards": rewards,
    }


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


# --- staff and scheduled work -------------------------------------------------------------


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
    """Run by ``members.service.member_merge``: fold the duplicate's points account."""
    accounts_merge(uow, survivor_id=survivor_id, merged_id=merged_id)


__all__ = [
    "TillLine",
    "accounts_merge",
    "member_merge_hook",
    "points_adjust",
    "points_expire",
    "points_grant_many",
    "receipt_points",
    "return_points",
    "tiers_review",
]
