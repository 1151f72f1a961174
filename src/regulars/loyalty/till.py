"""Loyalty at the till: a receipt's coupons, redemption and earning.

Every receipt of a member passes through :func:`receipt_points`, inside the receipt's
transaction, so it is written for few round trips and little Python per receipt
(the statements are in :mod:`regulars.loyalty.statements`):

1. one statement locks the member's account (``SELECT … FOR UPDATE``) and reads, with it,
   the programme's current revision and the member's birthday. The programme's settings,
   tiers and rules come from the process's cache of that revision
   (:func:`programme.programme_view`), so a change is seen from the next receipt on;
2. coupons (when the till sends codes): one read of them all and one conditional update
   each (:mod:`regulars.loyalty.coupons_till`);
3. redemption (when asked): one read of the first spendable lots;
4. one statement on PostgreSQL writes the new ledger lines, takes the redeemed points
   from their lots and updates the account, returning the member's pending and
   expired-but-unprocessed points for the till's answer (data-modifying CTEs and
   ``RETURNING``); SQLite runs the three in turn.

So an earning receipt costs two statements on PostgreSQL (it cost five: a programme read,
the lock, the insert, the account's update and a position query) and a redeeming one
three (it cost seven), all Core statements built once rather than ORM flushes. The
guarantees are those of :mod:`regulars.loyalty.ledger`: the account row lock serialises
every writer of one member's points, and the CHECK constraints keep balances and lots
from going below zero. Returns (:mod:`regulars.loyalty.returns`) are rare and go through
the ORM ledger functions.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Row, select

from regulars.core.errors import InvalidInput, RuleViolation
from regulars.core.i18n import _
from regulars.core.timeutil import utcnow
from regulars.core.uow import UnitOfWork
from regulars.loyalty import ledger, rules
from regulars.loyalty.coupons_till import coupons_apply
from regulars.loyalty.models import PointsAccount, PointsLine
from regulars.loyalty.programme import Config, ProgrammeView, programme_view
from regulars.loyalty.statements import (
    INSERT_LOT,
    LOCK,
    OPEN,
    PRODUCT,
    SAVE_ACCOUNT,
    AccountState,
    AnswerTo,
    LockedRow,
    LockJoin,
    Writes,
    lock_join,
    points_before,
    receipt_writes,
    spendable,
)


@dataclass(frozen=True)
class TillLine:
    """A receipt line as the till integration hands it over."""

    line_no: int
    product_id: int
    amount: Decimal
    quantity: Decimal


def account_lock(uow: UnitOfWork, member_id: int) -> Row[Any] | LockedRow:
    """Lock the member's account, creating it on first use (what :data:`LOCK` reads).

    A till path that read the member without the account's lock (the member had no
    account yet) takes it here before it writes anything, so that every receipt of a
    member takes the account's lock before the receipt's key: two receipts of one member
    taking them in opposite orders could deadlock.
    """
    conn = uow.session.connection()
    # Callers come here when the member's read found no account: open it first (one
    # statement); if it exists after all, or appeared meanwhile, lock it as usual.
    opened = conn.execute(OPEN[conn.dialect.name], {"member_id": member_id, "now": utcnow()})
    row = opened.first() or conn.execute(LOCK, {"member_id": member_id}).first()
    if row is None:  # the programme was never used: seed it, then open the account
        view = programme_view(uow)
        ledger.account_create(uow, member_id=member_id, tier_code=view.config.lowest.code)
        row = conn.execute(LOCK, {"member_id": member_id}).one()
    return row


def _locked(
    uow: UnitOfWork, member_id: int, locked: Row[Any] | LockedRow | None
) -> tuple[Row[Any] | LockedRow, ProgrammeView]:
    """The member's locked account (locked here unless the caller did) and the programme
    it earns under."""
    row = locked if locked is not None else account_lock(uow, member_id)
    view = programme_view(uow, revision=row.revision)
    return row, view


def _lots_read(row: Row[Any] | LockedRow, need: int) -> list[rules.Lot] | None:
    """The spendable lots the lock's read brought (:func:`lock_join` with ``lots``), if
    they are current and are all there are or cover ``need``; else ``None``."""
    lots = row.lots if isinstance(row, LockedRow) else None
    if lots is None:
        return None
    if len(lots) < ledger.FIRST_LOTS or sum(lot.remaining for lot in lots) >= need:
        return list(lots)
    return None


def _facts(uow: UnitOfWork, lines: Sequence[TillLine], config: Config) -> list[rules.ItemFacts]:
    """Lines with the product facts the multiplier rules look at (read only when needed)."""
    products: dict[int, tuple[str | None, str | None, tuple[str, ...]]] = {}
    if config.needs_products:
        ids = {line.product_id for line in lines}
        for row in uow.session.connection().execute(
            select(PRODUCT.c.id, PRODUCT.c.category, PRODUCT.c.brand, PRODUCT.c.tags).where(
                PRODUCT.c.id.in_(ids)
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


def _line(member_id: int, source_id: int, now: datetime, **values: Any) -> dict[str, Any]:
    """A ledger line's row for the Core insert (every column given, as executemany needs)."""
    return {
        "member_id": member_id,
        "kind": values["kind"],
        "points": values["points"],
        "debt": values.get("debt", 0),
        "remaining": values.get("remaining", 0),
        "spend": values.get("spend", Decimal("0")),
        "source_type": values.get("source_type", "receipt"),
        "source_id": source_id,
        "reason": values["reason"],
        "actor": None,
        "linked_line_id": values.get("linked_line_id"),
        "created_at": now,
        "available_at": values.get("available_at"),
        "expires_at": values.get("expires_at"),
        "detail": values.get("detail", {}),
    }


def _forget(uow: UnitOfWork) -> None:
    """Expire loaded accounts and ledger lines: Core statements changed them underneath."""
    for obj in list(uow.session.identity_map.values()):
        if isinstance(obj, PointsAccount | PointsLine):
            uow.session.expire(obj)


class _NotPlanned(Exception):
    """A receipt :func:`receipt_plan` cannot settle without writing before the receipt."""


@dataclass
class _Settled:
    """A receipt's points worked out: the writes, the account after them, the answer."""

    writes: Writes
    account: AccountState
    answer: dict[str, Any]


def _settle(
    uow: UnitOfWork,
    *,
    member_id: int,
    source_id: int,
    occurred_at: datetime,
    lines: Sequence[TillLine],
    redeem: int | None,
    coupon_codes: Sequence[str],
    now: datetime | None,
    locked: Row[Any] | LockedRow | None,
    dry: bool,
) -> _Settled:
    """Work out coupons, redemption and earning (see :func:`receipt_points`).

    ``dry`` writes nothing and raises :class:`_NotPlanned` where a write would be needed
    before the end (coupons, a debt paid from the new points, a tier upgrade).
    """
    now = now or utcnow()
    earned_at = min(occurred_at, now)  # a till clock running ahead cannot shorten the window
    uow.flush()  # pending ORM changes go first: what follows is Core on the same connection
    conn = uow.session.connection()
    row, programme = _locked(uow, member_id, locked)
    account = AccountState.of(row)
    config = programme.config
    items = _facts(uow, lines, config)
    total = sum((i.amount for i in items), Decimal("0"))
    writes = Writes(conn, member_id)
    rewards: list[dict[str, Any]] = []
    answer: dict[str, Any] = {}
    off = Decimal("0")
    if coupon_codes:
        if dry:
            raise _NotPlanned
        goods = sum((i.amount for i in items if i.amount > 0), Decimal("0"))
        applied = coupons_apply(
            uow,
            member_id=member_id,
            codes=coupon_codes,
            receipt_id=source_id,
            goods=goods,
            payable=max(total, Decimal("0")),
            at=earned_at,
            now=now,
        )
        off = sum((Decimal(c["discount"]) for c in applied), Decimal("0"))
        answer["coupons"] = applied
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
        value = rules.redemption_value(redeem, points_per_unit=programme.redeem_points_per_unit)
        payable = total - off
        if value > payable:
            raise InvalidInput(
                _("{points} points are worth {value}, more than the receipt's {total}"),
                field="redeem_points",
                points=redeem,
                value=value,
                total=payable,
            )
        lots = _lots_read(row, redeem)
        if lots is None:
            lots = spendable(conn, member_id, now, redeem)
        available = sum(lot.remaining for lot in lots)
        if redeem > available:
            raise RuleViolation(
                _("only {available} points can be redeemed"),
                field="redeem_points",
                available=available,
            )
        taken, _short = rules.fifo_allocate(lots, redeem)
        writes.takes.update(taken)
        writes.rows.append(
            _line(
                member_id,
                source_id,
                now,
                kind="redeem",
                points=-redeem,
                reason=_("redeemed at the till"),
                detail={"lots": {str(k): v for k, v in taken.items()}, "value": str(value)},
            )
        )
        account.balance -= redeem
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
            redeemed_value=value + off,
        )
        bonus: dict[str, int] = {}
        earns = earning.spend > 0 and earning.spend >= programme.min_spend
        if earns and account.first_earn_at is None and programme.first_purchase_bonus:
            bonus["first_purchase"] = programme.first_purchase_bonus
        birthday = row.birthday
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
            available_at = rules.available_at_for(earned_at, pending_days=programme.pending_days)
            pay = min(earned, account.debt) if earned > 0 else 0
            lot = _line(
                member_id,
                source_id,
                now,
                kind="earn",
                points=earned,
                remaining=earned - pay,
                spend=earning.spend,
                reason=_("earned on a receipt"),
                available_at=available_at,
                expires_at=rules.expires_at_for(
                    earned_at, policy=programme.expiry_policy, months=programme.expiry_months
                ),
                detail={"lines": {str(k): v for k, v in earning.lines.items()}, "bonus": bonus},
            )
            account.balance += earned
            if pay:
                if dry:
                    raise _NotPlanned
                # The debt line names the lot it was paid from: the lot's id is needed first.
                lot_id: int = conn.execute(INSERT_LOT, lot).scalar_one()
                writes.rows.append(
                    _line(
                        member_id,
                        source_id,
                        now,
                        kind="debt",
                        points=-pay,
                        debt=-pay,
                        reason=_("debt paid from new points"),
                        linked_line_id=lot_id,
                        detail={"lots": {str(lot_id): pay}},
                    )
                )
                account.balance -= pay
                account.debt -= pay
            else:
                writes.rows.append(lot)
            rewards.extend({"code": code, "points": n} for code, n in bonus.items())
            account.lifetime_earned += earned
            account.qualifying_spend += earning.spend
            if earns and account.first_earn_at is None:
                account.first_earn_at = now
    if programme.active:
        if dry and rules.tier_for(account.qualifying_spend, config.tiers).rank > (
            config.tier(account.tier_code).rank
        ):
            raise _NotPlanned  # the upgrade reads the ledger with this receipt's lines in it
        upgraded = _tier_upgrade(uow, writes, account, config, member_id, now)
        if upgraded is not None:
            rewards.append({"code": "tier_upgrade", "tier": upgraded.code})
    return _Settled(
        writes,
        account,
        {
            "points_earned": earned,
            "points_redeemed": redeemed,
            "debt": account.debt,
            "tier": account.tier_code,
            "rewards": rewards,
            **answer,
        },
    )


def receipt_points(
    uow: UnitOfWork,
    *,
    member_id: int,
    source_id: int,
    occurred_at: datetime,
    lines: Sequence[TillLine],
    redeem: int | None = None,
    coupon_codes: Sequence[str] = (),
    now: datetime | None = None,
    answer_to: AnswerTo | None = None,
    locked: Row[Any] | LockedRow | None = None,
) -> dict[str, Any]:
    """Honour coupons, redeem and earn points for one receipt, in the receipt's transaction.

    Coupons first (each the member's own, valid when the receipt was rung up, its minimum
    spend met by the goods, and used once), then redemption (so the receipt's own points
    can never pay for it): the member's available points are spent soonest-expiring first,
    never more than there are and never more than is left to pay after the coupons. Then
    earning on what was really paid (coupon discounts and points take their share off
    every line), with the tier, product and member-day multipliers and the first-purchase
    and birthday bonuses; the lot stays pending through the return window. Returns the
    fields of the till's answer; with ``answer_to`` they are also written there, with its
    ``base``, in the account's own statement (:class:`~regulars.loyalty.statements.AnswerTo`).
    ``locked`` is the account as the caller locked it (with its read of the member,
    :class:`~regulars.loyalty.statements.LockJoin`, or by :func:`account_lock`); without
    it the account is locked here.
    """
    now = now or utcnow()
    settled = _settle(
        uow,
        member_id=member_id,
        source_id=source_id,
        occurred_at=occurred_at,
        lines=lines,
        redeem=redeem,
        coupon_codes=coupon_codes,
        now=now,
        locked=locked,
        dry=False,
    )
    done = settled.writes.save(now, _account_params(settled.account), settled.answer, answer_to)
    _forget(uow)
    return done


@dataclass(frozen=True)
class TillPlan:
    """A receipt's points worked out before the receipt is written, for the receipt's own
    statement to write (:class:`~regulars.loyalty.statements.ReceiptWrites`)."""

    params: dict[str, Any]
    answer: dict[str, Any]
    new_balance: int
    add_pending: int
    add_expired: int
    #: The writes themselves, for :func:`plan_write` (SQLite, no data-modifying CTEs).
    writes: Writes

    def answer_with(self, pending: int, expired: int) -> dict[str, Any]:
        """The answer's points fields, given the member's points before the statement."""
        pending += self.add_pending
        expired += self.add_expired
        return {**self.answer, "balance": self.new_balance - pending - expired, "pending": pending}


def receipt_plan(
    uow: UnitOfWork,
    *,
    member_id: int,
    occurred_at: datetime,
    lines: Sequence[TillLine],
    redeem: int | None,
    now: datetime,
    locked: Row[Any] | LockedRow,
) -> TillPlan | None:
    """A receipt's redemption and earning worked out without writing, for the caller to
    write with the receipt itself (one statement instead of two); ``None`` when it needs a
    write of its own first (a debt paid from the new points, a tier upgrade) and must go
    through :func:`receipt_points` after the receipt is inserted. The rules, checks and
    refusals are those of :func:`receipt_points`; the caller has locked the account.
    """
    try:
        settled = _settle(
            uow,
            member_id=member_id,
            source_id=0,  # the receipt's own statement fills in the receipt's id
            occurred_at=occurred_at,
            lines=lines,
            redeem=redeem,
            coupon_codes=(),
            now=now,
            locked=locked,
            dry=True,
        )
    except _NotPlanned:
        return None
    add_pending, add_expired = settled.writes.added(now)
    return TillPlan(
        params=settled.writes.plan_params(now, _account_params(settled.account)),
        answer=settled.answer,
        new_balance=settled.account.balance,
        add_pending=add_pending,
        add_expired=add_expired,
        writes=settled.writes,
    )


def plan_write(uow: UnitOfWork, plan: TillPlan, *, source_id: int) -> None:
    """Write a :class:`TillPlan` after the caller inserted its receipt ``source_id``, in
    the receipt's transaction (SQLite: the statements run in turn, the account last)."""
    for row in plan.writes.rows:
        row["source_id"] = source_id
    plan.writes.send()
    uow.session.connection().execute(SAVE_ACCOUNT, plan.params)
    _forget(uow)


def planned(uow: UnitOfWork) -> None:
    """After the caller's statement wrote a :class:`TillPlan`: loaded accounts and ledger
    lines are stale."""
    _forget(uow)


def _account_params(account: AccountState) -> dict[str, Any]:
    """The account's new values, as the account's statement takes them."""
    return {
        "account_id": account.id,
        "new_balance": account.balance,
        "new_debt": account.debt,
        "new_lifetime": account.lifetime_earned,
        "new_tier": account.tier_code,
        "new_tier_since": account.tier_since,
        "new_spend": account.qualifying_spend,
        "new_first_earn": account.first_earn_at,
        "new_birthday_year": account.birthday_bonus_year,
    }


def _tier_upgrade(
    uow: UnitOfWork,
    writes: Writes,
    account: AccountState,
    config: Config,
    member_id: int,
    now: datetime,
) -> rules.TierRule | None:
    """Upgrade at once when the spend crosses the next threshold (never downgrade here)."""
    current = config.tier(account.tier_code)
    if rules.tier_for(account.qualifying_spend, config.tiers).rank <= current.rank:
        return None
    # The cached spend can only overstate the rolling spend: check the ledger first (with
    # this receipt's lines written, so its spend counts).
    writes.send()
    account.qualifying_spend = ledger.rolling_spend(uow, member_id=member_id, now=now)
    reached = rules.tier_for(account.qualifying_spend, config.tiers)
    if reached.rank <= current.rank:
        return None
    account.tier_code, account.tier_since = reached.code, now
    return reached


__all__ = [
    "AnswerTo",
    "LockJoin",
    "LockedRow",
    "TillLine",
    "TillPlan",
    "account_lock",
    "lock_join",
    "plan_write",
    "planned",
    "points_before",
    "receipt_plan",
    "receipt_points",
    "receipt_writes",
]
