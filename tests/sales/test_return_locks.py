"""A return locks its original receipt, not the till the original was rung up on.

The original is found joined to its till (``sales.queries.TILL_OF_RECEIPT``) and locked
``FOR UPDATE`` against a concurrent return; locking the joined till row too would hold
back every receipt that till records meanwhile (a receipt's foreign key takes a share
lock on its till). PostgreSQL only: SQLite has no row locks.
"""

from __future__ import annotations

import pytest
from sqlalchemy import text

from regulars.catalog.queries import Coded
from regulars.core.db import make_engine, make_session_factory
from regulars.core.uow import UnitOfWork
from regulars.sales import service
from regulars.sales.schemas import ReceiptIn, ReturnIn
from tests.factories.world import build_world, receipt_payload


@pytest.mark.parametrize("name_the_till", [True, False])
def test_a_return_in_progress_does_not_hold_back_its_tills_receipts(
    fresh_database: str, name_the_till: bool
) -> None:
    if not fresh_database.startswith("postgresql"):
        pytest.skip("PostgreSQL only: SQLite has no row locks")
    engine = make_engine(fresh_database, pool_size=4)
    factory = make_session_factory(engine)
    try:
        with UnitOfWork(factory) as uow:
            world = build_world(uow)
            store = Coded(id=world.store.id, code=world.store.code)
            terminal = Coded(id=world.terminal.id, code=world.terminal.code)
            service.receipt_record(
                uow,
                store=store,
                terminal=terminal,
                data=ReceiptIn.model_validate(receipt_payload(world, "L-1")),
            )
            uow.commit()
        back = ReturnIn.model_validate(
            {
                "receipt_no": "L-RET",
                "occurred_at": "2026-11-21T09:00:00+08:00",
                "original_receipt_no": "L-1",
                "original_terminal": "T01" if name_the_till else None,
                "lines": [{"line_no": 1, "quantity": "1"}],
            }
        )
        with UnitOfWork(factory) as returning:
            service.return_record(returning, store=store, terminal=terminal, data=back)
            # The return is written, not committed: its locks are held. The till's next
            # receipt must not wait for them.
            with engine.connect() as till:
                till.execute(text("SET lock_timeout = '3s'"))
                till.execute(
                    text(
                        "INSERT INTO receipt (store_id, terminal_id, receipt_no, kind,"
                        " occurred_at, total, discount_total, line_count, payments,"
                        " content_hash, response, source, recorded_at) VALUES (:s, :t,"
                        " 'L-2', 'sale', now(), 0, 0, 0, '[]', 'h', '{}', 'till', now())"
                    ),
                    {"s": store.id, "t": terminal.id},
                )
                till.commit()
            returning.commit()
        with UnitOfWork(factory) as uow:
            numbers = uow.session.execute(text("SELECT receipt_no FROM receipt ORDER BY id"))
            assert [n for (n,) in numbers] == ["L-1", "L-RET", "L-2"]
    finally:
        engine.dispose()
