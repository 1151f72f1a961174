"""Helpers for loyalty tests: programme settings, receipts, returns and coupons at the service level."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from regulars.core.uow import UnitOfWork
from regulars.loyalty import coupons, programme, queries, service
from regulars.loyalty.models import MemberCoupon
from regulars.loyalty.schemas import CouponIssueIn, ProgrammeUpdate
from regulars.loyalty.service import TillLine

T0 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)  # a Monday
_numbers = itertools.count(1_000_000)


def configure(uow: UnitOfWork, **changes: Any) -> None:
    """Change programme settings (e.g. ``pending_days=0``)."""
    programme.programme_update(uow, data=ProgrammeUpdate(**changes))


def till_lines(*amounts: str | Decimal, product_id: int = 1) -> list[TillLine]:
    """Receipt lines of the given amounts, numbered from 1."""
    return [
        TillLine(n, product_id, Decimal(a), Decimal("1")) for n, a in enumerate(amounts, start=1)
    ]


def buy(
    uow: UnitOfWork,
    member_id: int,
    *amounts: str | Decimal,
    at: datetime = T0,
    redeem: int | None = None,
    source_id: int | None = None,
    product_id: int = 1,
) -> dict[str, Any]:
    """Earn (and maybe redeem) on a receipt of the given line amounts at ``at``."""
    answer = service.receipt_points(
        uow,
        member_id=member_id,
        source_id=source_id if source_id is not None else next(_numbers),
        occurred_at=at,
        lines=till_lines(*amounts, product_id=product_id),
        redeem=redeem,
        now=at,
    )
    return answer


def give_back(
    uow: UnitOfWork,
    member_id: int,
    original_id: int,
    shares: list[tuple[int, str, str]],
    *,
    at: datetime = T0,
) -> dict[str, Any]:
    """Return (line number, share returned so far, refund) of receipt ``original_id``."""
    return service.return_points(
        uow,
        member_id=member_id,
        source_id=next(_numbers),
        original_id=original_id,
        lines=[(no, Decimal(share), Decimal(refund)) for no, share, refund in shares],
        now=at,
    )


def assert_ledger_ok(uow: UnitOfWork, *member_ids: int) -> None:
    """The accounts agree with their ledgers."""
    uow.flush()
    for member_id in member_ids:
        assert queries.ledger_check(uow.session, member_id=member_id) == []


ISSUED = datetime(2026, 11, 1, tzinfo=UTC)  # before the receipts of tests.factories.world


def give_coupon(
    uow: UnitOfWork,
    member_id: int,
    *,
    kind: str = "amount",
    value: str = "5",
    min_spend: str = "0",
    max_discount: str | None = None,
    days: int = 3650,
    at: datetime = ISSUED,
) -> MemberCoupon:
    """A compensation coupon issued at ``at`` (valid ``days``), committed."""
    coupon = coupons.coupon_compensate(
        uow,
        member_id=member_id,
        data=CouponIssueIn(
            kind=kind,  # type: ignore[arg-type]
            value=Decimal(value),
            min_spend=Decimal(min_spend),
            max_discount=Decimal(max_discount) if max_discount else None,
            valid_days=days,
            reason="test",
        ),
        actor="test",
        now=at,
    )
    uow.commit()
    return coupon
