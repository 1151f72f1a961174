"""Ledger primitives: locked accounts, lots, appending lines, positions and tier upgrades.

Every function that changes points runs after :func:`account_lock`, so the account row
lock serialises all writers of one member's lots.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.dialects import postgresql, sqlite

from regulars.core.i18n import _
from regulars.core.timeutil import utcnow
from regulars.core.uow import UnitOfWork
from regulars.loyalty import rules
from regulars.loyalty.models import LoyaltyProgramme, PointsAccount, PointsLine
from regulars.loyalty.programme import Config, ProgrammeView, programme_config, programme_get
from regulars.members.models import Member

FIRST_LOTS = 16  # lots read first for a redemption; most are covered by the oldest few


def account_lock(uow: UnitOfWork, *, member_id: int, config: Config | None = None) -> PointsAccount:
    """The member's account, locked for this transaction; created on first use."""
    # Queries below refresh loaded rows (populate_existing): pending changes must go first.
    uow.flush()
    query = (
        select(PointsAccount)
        .where(PointsAccount.member_id == member_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    account = uow.session.scalars(query).first()
    if account is not None:
        return account
    if config is None:
        config = programme_config(uow.session, programme_get(uow))
    account_create(uow, member_id=member_id, tier_code=config.lowest.code)
    return uow.session.scalars(query).one()


def account_create(uow: UnitOfWork, *, member_id: int, tier_code: str) -> None:
    """Create the member's account unless another transaction already did (then wait for it)."""
    builder = (
        postgresql.insert if uow.session.get_bind().dialect.name == "postgresql" else sqlite.insert
    )
    now = utcnow()
    uow.session.execute(
        builder(PointsAccount)
        .values(
            member_id=member_id,
            balance=0,
            debt=0,
            lifetime_earned=0,
            tier_code=tier_code,
            tier_since=now,
            qualifying_spend=Decimal("0"),
            updated_at=now,
        )
        .on_conflict_do_nothing(index_elements=["member_id"])
    )


def lots_open(
    uow: UnitOfWork, member_id: int, *, now: datetime, spendable: bool, need: int | None = None
) -> list[PointsLine]:
    """The member's unexpired lots with points left, soonest-expiring first.

    Only available (not pending) lots if ``spendable``. With ``need``, only as many of the
    first lots as cover it are read when they do (a regular may hold hundreds of lots).
    """
    uow.flush()  # the rows are refreshed from the database: unflushed takes must be sent
    query = (
        select(PointsLine)
        .where(
            PointsLine.member_id == member_id,
            PointsLine.remaining > 0,
            or_(PointsLine.expires_at.is_(None), PointsLine.expires_at > now),
        )
        .order_by(PointsLine.expires_at, PointsLine.id)
        .execution_options(populate_existing=True)
    )
    if spendable:
        query = query.where(or_(PointsLine.available_at.is_(None), PointsLine.available_at <= now))
    if need is not None:
        first = list(uow.session.scalars(query.limit(FIRST_LOTS)))
        if len(first) < FIRST_LOTS or sum(lot.remaining for lot in first) >= need:
            return first
    return list(uow.session.scalars(query))


def lots_take(lots: Sequence[PointsLine], points: int) -> tuple[dict[str, int], int]:
    """Consume ``points`` from ``lots`` first-in first-out by expiry; return (allocation, short)."""
    by_id = {lot.id: lot for lot in lots}
    taken, short = rules.fifo_allocate(
        (rules.Lot(lot.id, lot.remaining, lot.expires_at) for lot in lots), points
    )
    for lot_id, n in taken.items():
        by_id[lot_id].remaining -= n
    return {str(k): v for k, v in taken.items()}, short


def line_append(uow: UnitOfWork, account: PointsAccount, **values: Any) -> PointsLine:
    """Append a ledger line and keep the account's cached numbers equal to the ledger."""
    line = PointsLine(member_id=account.member_id, **values)
    line.debt = values.get("debt", 0)
    line.remaining = values.get("remaining", 0)
    line.spend = values.get("spend", Decimal("0"))
    line.detail = values.get("detail", {})
    uow.session.add(line)
    account.balance += line.points
    account.debt += line.debt
    account.updated_at = values.get("created_at") or utcnow()
    return line


def lot_grant(
    uow: UnitOfWork,
    account: PointsAccount,
    programme: LoyaltyProgramme | ProgrammeView,
    *,
    kind: str,
    points: int,
    earned_at: datetime,
    now: datetime,
    available_at: datetime | None = None,
    **values: Any,
) -> PointsLine:
    """Add a lot of ``points`` and pay any debt from it first."""
    lot = line_append(
        uow,
        account,
        kind=kind,
        points=points,
        remaining=points,
        created_at=now,
        available_at=available_at or now,
        expires_at=rules.expires_at_for(
            earned_at, policy=programme.expiry_policy, months=programme.expiry_months
        ),
        **values,
    )
    if account.debt > 0 and points > 0:
        uow.flush()  # the lot's id names it in the payment line
        pay = min(points, account.debt)
        lot.remaining -= pay
        line_append(
            uow,
            account,
            kind="debt",
            points=-pay,
            debt=-pay,
            source_type=values.get("source_type", "staff"),
            source_id=values.get("source_id"),
            reason=_("debt paid from new points"),
            linked_line_id=lot.id,
            created_at=now,
            detail={"lots": {str(lot.id): pay}},
        )
    return lot


def position(uow: UnitOfWork, account: PointsAccount, now: datetime) -> tuple[int, int]:
    """(available, pending) points of a member at ``now`` (flushes first).

    The balance is the sum of the lots' remaining points, so only the pending and the
    expired-but-not-yet-processed lots are read — a few rows, found through the partial
    indexes on live lots — rather than every lot the member holds.
    """
    uow.flush()
    live = (PointsLine.member_id == account.member_id, PointsLine.remaining > 0)
    pending = (
        select(func.coalesce(func.sum(PointsLine.remaining), 0))
        .where(*live, PointsLine.available_at > now)
        .where(or_(PointsLine.expires_at.is_(None), PointsLine.expires_at > now))
        .scalar_subquery()
    )
    expired = (
        select(func.coalesce(func.sum(PointsLine.remaining), 0))
        .where(*live, PointsLine.expires_at <= now)
        .scalar_subquery()
    )
    row = uow.session.execute(select(pending, expired)).one()
    waiting, gone = int(row[0] or 0), int(row[1] or 0)
    return account.balance - waiting - gone, waiting


def member_ids(uow: UnitOfWork, member_id: int) -> list[int]:
    """The member and every record merged into it (their spend counts for its tier)."""
    ids, frontier = [member_id], [member_id]
    while frontier:
        frontier = list(
            uow.session.scalars(select(Member.id).where(Member.merged_into_id.in_(frontier)))
        )
        frontier = [i for i in frontier if i not in ids]
        ids.extend(frontier)
    return ids


def rolling_spend(uow: UnitOfWork, *, member_id: int, now: datetime) -> Decimal:
    """Qualifying spend of the last 12 months, from the ledger (merged records included)."""
    ids = member_ids(uow, member_id)
    uow.flush()
    total = uow.session.scalar(
        select(func.coalesce(func.sum(PointsLine.spend), 0)).where(
            PointsLine.member_id.in_(ids), PointsLine.created_at >= now - rules.TIER_WINDOW
        )
    )
    return Decimal(total or 0)


def tier_upgrade(
    uow: UnitOfWork, account: PointsAccount, config: Config, now: datetime
) -> rules.TierRule | None:
    """Upgrade at once when the spend crosses the next threshold (never downgrade here)."""
    current = config.tier(account.tier_code)
    if rules.tier_for(account.qualifying_spend, config.tiers).rank <= current.rank:
        return None
    # The cache can only overstate the rolling spend: check the ledger before upgrading.
    account.qualifying_spend = rolling_spend(uow, member_id=account.member_id, now=now)
    reached = rules.tier_for(account.qualifying_spend, config.tiers)
    if reached.rank <= current.rank:
        return None
    account.tier_code, account.tier_since = reached.code, now
    return reached


def lot_current(uow: UnitOfWork, lot: PointsLine, member_id: int) -> PointsLine | None:
    """Where a lot's points are now: the lot itself or the lot a merge transferred them to."""
    uow.flush()
    seen = set()
    while lot.member_id != member_id and lot.id not in seen:
        seen.add(lot.id)
        moved = uow.session.scalars(
            select(PointsLine)
            .where(
                PointsLine.kind == "transfer",
                PointsLine.linked_line_id == lot.id,
                PointsLine.points > 0,
            )
            .execution_options(populate_existing=True)
        ).first()
        if moved is None:
            return None
        lot = moved
    return lot if lot.member_id == member_id else None
