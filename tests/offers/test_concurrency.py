"""Concurrent tills redeeming lists, each in its own connection and transaction: a deal's
budget is never overrun and an item is never redeemed twice (PostgreSQL and SQLite)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from decimal import Decimal

from sqlalchemy import func, select

from regulars.core.db import make_engine, make_session_factory
from regulars.core.errors import DomainError
from regulars.core.uow import UnitOfWork
from regulars.offers import lists, service
from regulars.offers.lists import CycleInput
from regulars.offers.models import Deal, Redemption
from regulars.offers.redeem import TillLine, receipt_redeem
from regulars.offers.schemas import ListSettingsUpdate
from tests.factories.world import build_world
from tests.offers.conftest import CYCLE_START, deal

MEMBERS = 12
AT = datetime(2026, 11, 20, 2, 0, tzinfo=UTC)


def test_concurrent_redemptions_respect_budget_and_items(fresh_database: str) -> None:
    engine = make_engine(fresh_database, pool_size=MEMBERS * 2)
    factory = make_session_factory(engine)
    try:
        with UnitOfWork(factory) as uow:
            world = build_world(uow, members=MEMBERS)
            # 20 % of 2 × ¥3.50 = ¥1.40 a redemption: ¥14 pays for ten, not eleven.
            deal_id = deal(uow, world, 0, budget="14.00")
            service.settings_update(uow, data=ListSettingsUpdate(control_share=0.0))
            lists.cycle_generate(
                uow,
                starts_on=CYCLE_START,
                data=CycleInput(
                    spend={m.id: Decimal("5000") for m in world.members},
                    predictions=[],
                    popular=[world.products[0].id],
                ),
                seed=1,
            )
            uow.commit()
            member_ids = [m.id for m in world.members]
            product_id = world.products[0].id
        line = TillLine(1, product_id, Decimal("2"), Decimal("3.50"), Decimal("7.00"))

        def redeem(n: int) -> int:
            # Every member twice: the second receipt of a member must find the item gone.
            member_id = member_ids[n % MEMBERS]
            with UnitOfWork(factory) as uow:
                try:
                    given = receipt_redeem(
                        uow,
                        member_id=member_id,
                        list_code=None,
                        receipt_id=1000 + n,
                        occurred_at=AT,
                        lines=[line],
                    )
                    uow.commit()
                except DomainError:
                    return 0
                return len(given)

        with ThreadPoolExecutor(max_workers=MEMBERS * 2) as pool:
            done = list(pool.map(redeem, range(MEMBERS * 2)))
        assert sum(done) == 10
        with UnitOfWork(factory) as uow:
            spent = uow.session.get(Deal, deal_id)
            assert spent is not None and spent.spent == Decimal("14.00")
            rows = uow.session.scalar(select(func.count(Redemption.id)))
            members = uow.session.scalar(select(func.count(func.distinct(Redemption.member_id))))
            assert rows == members == 10
    finally:
        engine.dispose()
