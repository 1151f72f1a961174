"""A return's replay that waits for its first send's lock answers as a replay.

The first send locks the original receipt and records the return; the replay, sent while
that transaction is still open, finds no return with its number yet and waits for the
lock. When it gets the lock, the return is there: it must answer with the first answer,
not count that return against itself and refuse "already returned". On PostgreSQL the
replay waits on the row lock (``SELECT … FOR UPDATE``); on SQLite on ``BEGIN IMMEDIATE``.
"""

from __future__ import annotations

import threading
import time

from sqlalchemy import func, select

from regulars.catalog.models import Store, Terminal
from regulars.core.db import make_engine, make_session_factory
from regulars.core.uow import UnitOfWork
from regulars.sales import service
from regulars.sales.models import Receipt
from regulars.sales.schemas import ReceiptIn, ReturnIn
from tests.factories.world import build_world, receipt_payload

RETURN = {
    "receipt_no": "RET-RACE",
    "occurred_at": "2026-11-20T11:00:00+08:00",
    "original_receipt_no": "SALE-RACE",
    "lines": [{"line_no": 1, "quantity": "2"}],  # all that was bought
}


def test_a_replay_waiting_for_the_lock_answers_as_a_replay(fresh_database: str) -> None:
    engine = make_engine(fresh_database, pool_size=3)
    factory = make_session_factory(engine)
    try:
        with UnitOfWork(factory) as uow:
            world = build_world(uow)
            sale = receipt_payload(world, "SALE-RACE", member=False, lines=1)
            store, terminal = world.store, world.terminal
            service.receipt_record(
                uow, store=store, terminal=terminal, data=ReceiptIn.model_validate(sale)
            )
            uow.commit()
            store_id, terminal_id = store.id, terminal.id
        data = ReturnIn.model_validate(RETURN)
        replay: dict[str, object] = {}

        def send_again() -> None:
            with UnitOfWork(factory) as other:
                here = other.session.get(Store, store_id), other.session.get(Terminal, terminal_id)
                assert here[0] is not None and here[1] is not None
                try:
                    replay["answer"] = service.return_record(
                        other, store=here[0], terminal=here[1], data=data
                    )
                    other.commit()
                except Exception as exc:  # reported by the assertion below
                    replay["error"] = exc

        with UnitOfWork(factory) as first_uow:
            here = (
                first_uow.session.get(Store, store_id),
                first_uow.session.get(Terminal, terminal_id),
            )
            assert here[0] is not None and here[1] is not None
            first = service.return_record(first_uow, store=here[0], terminal=here[1], data=data)
            waiting = threading.Thread(target=send_again)
            waiting.start()
            time.sleep(0.5)  # the replay is now waiting for the lock the first send holds
            assert waiting.is_alive()
            first_uow.commit()
        waiting.join(30)
        assert "error" not in replay, replay.get("error")
        again = replay["answer"]
        assert isinstance(again, service.Recorded)
        assert again.replayed and not first.replayed
        assert again.answer == first.answer
        with UnitOfWork(factory) as uow:
            returns = select(func.count()).where(Receipt.kind == "return")
            assert uow.session.scalar(returns) == 1
    finally:
        engine.dispose()
