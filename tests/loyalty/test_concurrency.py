"""Concurrent redemptions against one balance, each in its own connection and transaction.

On PostgreSQL the account row lock (``SELECT … FOR UPDATE``) is what serialises them; on
SQLite ``BEGIN IMMEDIATE`` does, so the test runs on both.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

from sqlalchemy import func, select

from regulars.core.db import make_engine, make_session_factory
from regulars.core.errors import RuleViolation
from regulars.core.uow import UnitOfWork
from regulars.loyalty import queries, service
from regulars.loyalty.models import PointsAccount, PointsLine
from regulars.members import service as member_service
from regulars.members.schemas import MemberCreate
from tests.factories.loyalty import T0, buy, configure, till_lines

REDEMPTIONS = 32
EACH = 100
HELD = 1050  # enough for ten redemptions, not eleven


def test_concurrent_redemptions_never_overspend(fresh_database: str) -> None:
    engine = make_engine(fresh_database, pool_size=REDEMPTIONS)
    factory = make_session_factory(engine)
    try:
        with UnitOfWork(factory) as uow:
            configure(uow, pending_days=0, min_redemption=0)
            member = member_service.member_register(uow, data=MemberCreate(card_no="CONC1"))
            buy(uow, member.id, "600", at=T0, source_id=1)
            buy(uow, member.id, "450", at=T0, source_id=2)
            uow.commit()
            member_id = member.id

        def redeem(n: int) -> bool:
            with UnitOfWork(factory) as uow:
                try:
                    service.receipt_points(
                        uow,
                        member_id=member_id,
                        source_id=100 + n,
                        occurred_at=T0,
                        lines=till_lines("1.00"),
                        redeem=EACH,
                        now=T0,
                    )
                except RuleViolation:
                    return False
                uow.commit()
                return True

        with ThreadPoolExecutor(max_workers=REDEMPTIONS) as pool:
            done = list(pool.map(redeem, range(REDEMPTIONS)))
        assert sum(done) == HELD // EACH
        with UnitOfWork(factory) as uow:
            account = uow.session.scalars(
                select(PointsAccount).where(PointsAccount.member_id == member_id)
            ).one()
            total = uow.session.scalar(
                select(func.sum(PointsLine.points)).where(PointsLine.member_id == member_id)
            )
            # Every successful ¥1 receipt earned 0 points (¥1 − ¥1 of points paid in money).
            assert account.balance == HELD - EACH * sum(done) == total >= 0
            assert queries.ledger_check(uow.session, member_id=member_id) == []
            assert Decimal(account.balance) >= 0
    finally:
        engine.dispose()
