"""Concurrent redemptions against one balance (and of one coupon), each in its own connection
and transaction.

On PostgreSQL the account row lock (``SELECT … FOR UPDATE``) is what serialises them; on
SQLite ``BEGIN IMMEDIATE`` does, so the test runs on both.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

from sqlalchemy import func, select

from regulars.catalog import service as catalog_service
from regulars.core.db import make_engine, make_session_factory
from regulars.core.errors import Conflict, RuleViolation
from regulars.core.uow import UnitOfWork
from regulars.loyalty import queries, service
from regulars.loyalty.models import MemberCoupon, PointsAccount, PointsLine
from regulars.members import service as member_service
from regulars.members.schemas import MemberCreate
from regulars.sales import service as sales_service
from regulars.sales.models import Receipt
from regulars.sales.schemas import ReceiptIn
from tests.factories.loyalty import T0, buy, configure, give_coupon, till_lines
from tests.factories.world import build_world, receipt_payload

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


def test_two_tills_redeeming_one_coupon_at_once_redeem_it_once(fresh_database: str) -> None:
    """Each till in its own connection and transaction, released together by a barrier."""
    engine = make_engine(fresh_database, pool_size=4)
    factory = make_session_factory(engine)
    try:
        with UnitOfWork(factory) as uow:
            world = build_world(uow, products=2, members=1, store_code="CC01")
            other = catalog_service.terminal_create(uow, store_code="CC01", code="T02")
            coupon = give_coupon(uow, world.members[0].id, value="5")
            # Read now and used detached: no till holds a transaction while waiting (SQLite
            # takes its write lock at BEGIN, which would keep the other till from the start).
            tills = [(world.store, world.terminal), (world.store, other)]
            uow.commit()
        start = threading.Barrier(len(tills), timeout=60)

        def checkout(n: int) -> str:
            body = {**receipt_payload(world, f"RACE-{n}"), "coupons": [coupon.code]}
            data = ReceiptIn.model_validate(body)
            store, terminal = tills[n]
            start.wait()
            with UnitOfWork(factory) as uow:
                try:
                    sales_service.receipt_record(uow, store=store, terminal=terminal, data=data)
                except Conflict:
                    return "refused"
                uow.commit()
                return "redeemed"

        with ThreadPoolExecutor(max_workers=len(tills)) as pool:
            outcomes = sorted(pool.map(checkout, range(len(tills))))
        assert outcomes == ["redeemed", "refused"]
        with UnitOfWork(factory) as uow:
            used = uow.session.get(MemberCoupon, coupon.id)
            receipts = list(uow.session.scalars(select(Receipt.id)))
            assert used is not None and used.status == "redeemed"
            assert receipts == [used.receipt_id]  # the refused receipt left nothing behind
    finally:
        engine.dispose()


TILLS = 12


def test_tills_redeeming_one_members_points_at_once_never_overspend(fresh_database: str) -> None:
    """Receipts of one member redeeming from many tills at once, through the till's path.

    On PostgreSQL the member's read brings the lots to spend with the account's lock; a
    receipt that waited for the lock must not spend lots as the read's snapshot saw them
    (another receipt has taken from them since). Several lots, so that the order counts.
    """
    engine = make_engine(fresh_database, pool_size=TILLS)
    factory = make_session_factory(engine)
    try:
        with UnitOfWork(factory) as uow:
            world = build_world(uow, products=2, members=1, store_code="CR01")
            configure(uow, pending_days=0, min_redemption=0)
            member_id = world.members[0].id
            for n, amount in enumerate(("300", "250", "350", "150"), start=1):
                buy(uow, member_id, amount, at=T0, source_id=900 + n)
            uow.commit()
        start = threading.Barrier(TILLS, timeout=60)

        def checkout(n: int) -> str:
            body = {**receipt_payload(world, f"RR-{n}"), "redeem_points": EACH}
            data = ReceiptIn.model_validate(body)
            start.wait()
            with UnitOfWork(factory) as uow:
                try:
                    sales_service.receipt_record(
                        uow, store=world.store, terminal=world.terminal, data=data
                    )
                except RuleViolation:
                    return "refused"
                uow.commit()
                return "redeemed"

        with ThreadPoolExecutor(max_workers=TILLS) as pool:
            outcomes = list(pool.map(checkout, range(TILLS)))
        # Only refusals for want of points; a stale read of the lots would have failed
        # on a lot's remaining going below zero, or broken the ledger below.
        assert outcomes.count("redeemed") >= HELD // EACH
        with UnitOfWork(factory) as uow:
            assert queries.ledger_check(uow.session, member_id=member_id) == []
            redemptions = uow.session.scalar(
                select(func.count()).where(
                    PointsLine.member_id == member_id, PointsLine.kind == "redeem"
                )
            )
            assert redemptions == outcomes.count("redeemed")
    finally:
        engine.dispose()
