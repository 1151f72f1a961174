"""The till's memory of keys and runs: what it trusts, for how long, and what it never keeps."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import event
from sqlalchemy.orm import Session, sessionmaker

from regulars.baskets.schemas import MineIn
from regulars.baskets.till import KEY_TTL, RUN_TTL, TillMemory
from regulars.catalog import service as catalog_service
from regulars.core.db import make_engine, make_session_factory
from regulars.core.errors import Unauthorized
from regulars.core.uow import UnitOfWork
from regulars.jobs.baskets import baskets_mine
from tests.factories.baskets import Shop, build_shop

LESSON_RULES = MineIn(level="product", min_support=0.2, min_confidence=0.5, min_lift=0)


class Clock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def memory(app: FastAPI, session_factory: sessionmaker[Session], clock: Clock) -> TillMemory:
    """The app's till memory, on the test's clock."""
    made = TillMemory(session_factory, clock=clock)
    app.state.till_memory = made
    return made


@pytest.fixture
def statements(engine: Any) -> Iterator[list[str]]:
    """Every SQL statement the engine runs while the test runs."""
    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    yield seen
    event.remove(engine, "before_cursor_execute", record)


def ask(client: Any, shop: Shop, **headers: str) -> Any:
    return client.post(
        "/api/v1/till/suggestions",
        json={"product_ids": shop.ids("beer")},
        headers=headers or shop.world.till(),
    )


def test_a_revoked_key_stops_working_once_its_time_is_up(
    client: Any, uow: UnitOfWork, shop: Shop, memory: TillMemory, clock: Clock
) -> None:
    baskets_mine(uow, data=LESSON_RULES)
    assert ask(client, shop).status_code == 200
    catalog_service.terminal_revoke_key(uow, store_code=shop.store.code, terminal_code="T01")
    uow.commit()
    clock.now += KEY_TTL - 0.5
    assert ask(client, shop).status_code == 200  # the documented bound: trusted until then
    clock.now += 0.5
    refused = ask(client, shop)
    assert refused.status_code == 401
    clock.now += 0.1
    assert ask(client, shop).status_code == 401  # a refusal is not remembered as a pass


def test_a_replaced_key_stops_working_and_the_new_one_works_at_once(
    client: Any, uow: UnitOfWork, shop: Shop, memory: TillMemory, clock: Clock
) -> None:
    old = shop.world.till()
    assert ask(client, shop, **old).status_code == 200
    new = catalog_service.terminal_issue_key(uow, store_code=shop.store.code, terminal_code="T01")
    uow.commit()
    assert ask(client, shop, **{"X-Api-Key": new.api_key}).status_code == 200
    clock.now += KEY_TTL
    assert ask(client, shop, **old).status_code == 401
    assert ask(client, shop, **{"X-Api-Key": new.api_key}).status_code == 200


def test_a_new_run_is_used_once_the_run_in_force_is_checked_again(
    client: Any, uow: UnitOfWork, shop: Shop, memory: TillMemory, clock: Clock
) -> None:
    assert ask(client, shop).json() == {"run_id": None, "suggestions": []}
    first = baskets_mine(uow, data=LESSON_RULES)
    clock.now += RUN_TTL
    answer = ask(client, shop).json()
    assert answer["run_id"] == first.id
    assert [s["product_id"] for s in answer["suggestions"]] == shop.ids("diapers", "milk")
    second = baskets_mine(uow, data=LESSON_RULES.model_copy(update={"min_confidence": 0.6}))
    clock.now += RUN_TTL - 1
    assert ask(client, shop).json()["run_id"] == first.id  # within the documented bound
    clock.now += 1
    answer = ask(client, shop).json()
    assert answer["run_id"] == second.id
    assert [s["product_id"] for s in answer["suggestions"]] == shop.ids("diapers")


def test_memory_answers_without_the_database(
    client: Any, uow: UnitOfWork, shop: Shop, memory: TillMemory, statements: list[str]
) -> None:
    baskets_mine(uow, data=LESSON_RULES)
    assert ask(client, shop).status_code == 200
    assert any("terminal" in s for s in statements)  # the first request reads
    statements.clear()
    for _ in range(3):
        assert ask(client, shop).json()["suggestions"]
    assert statements == []


def test_a_read_takes_no_write_lock(fresh_database: str) -> None:
    engine = make_engine(fresh_database)
    factory = make_session_factory(engine)
    with UnitOfWork(factory) as uow:
        shop = build_shop(uow)
    seen: list[str] = []
    event.listen(engine, "before_cursor_execute", lambda _c, _k, sql, *_a: seen.append(sql))
    try:
        found = TillMemory(factory).lookup(shop.world.api_key)
    finally:
        engine.dispose()
    assert found.store_id == shop.store.id
    assert any("terminal" in s for s in seen)
    assert not any("IMMEDIATE" in s.upper() for s in seen)
    if fresh_database.startswith("sqlite"):
        assert "BEGIN" in seen  # a deferred transaction: it waits for no writer


def test_bad_keys_are_refused_and_never_kept(
    session_factory: sessionmaker[Session], shop: Shop, clock: Clock
) -> None:
    memory = TillMemory(session_factory, clock=clock, max_keys=2)
    for wrong in ("nope", "rgt_000000000000_x", shop.world.api_key + "x"):
        with pytest.raises(Unauthorized):
            memory.lookup(wrong)
        assert memory.recall(wrong) is None
    found = memory.lookup(shop.world.api_key)
    assert found.store_id == shop.store.id and found.index is None
    assert memory.recall(shop.world.api_key) == found
    clock.now += KEY_TTL
    assert memory.recall(shop.world.api_key) is None
    memory.lookup(shop.world.api_key)
    memory.forget()
    assert memory.recall(shop.world.api_key) is None


def test_keys_kept_are_bounded(
    uow: UnitOfWork, session_factory: sessionmaker[Session], shop: Shop, clock: Clock
) -> None:
    keys = [shop.world.api_key]
    for code in ("T02", "T03"):
        catalog_service.terminal_create(uow, store_code=shop.store.code, code=code)
        keys.append(
            catalog_service.terminal_issue_key(
                uow, store_code=shop.store.code, terminal_code=code
            ).api_key
        )
    uow.commit()
    memory = TillMemory(session_factory, clock=clock, max_keys=2)
    for key in keys:
        memory.lookup(key)
    assert memory.recall(keys[0]) is None  # the oldest check made room
    assert memory.recall(keys[1]) is not None and memory.recall(keys[2]) is not None


def test_a_busy_till_is_checked_again_after_its_answers_and_never_waits(
    client: Any,
    uow: UnitOfWork,
    shop: Shop,
    memory: TillMemory,
    clock: Clock,
    statements: list[str],
) -> None:
    baskets_mine(uow, data=LESSON_RULES)
    key = shop.world.api_key
    assert ask(client, shop).status_code == 200
    clock.now += KEY_TTL * 0.4
    statements.clear()
    assert ask(client, shop).status_code == 200
    assert statements == []  # not yet half its time: nothing is read
    clock.now += KEY_TTL * 0.2
    assert memory.recall(key).due
    assert ask(client, shop).status_code == 200  # answered from memory, then checked again
    assert any("terminal" in s for s in statements)
    clock.now += KEY_TTL * 0.45  # past the first check's time, within the second's
    found = memory.recall(key)
    assert found is not None and not found.due
    # a key revoked meanwhile is found out by the next check and refused from then on
    catalog_service.terminal_revoke_key(uow, store_code=shop.store.code, terminal_code="T01")
    uow.commit()
    clock.now += KEY_TTL * 0.1
    assert ask(client, shop).status_code == 200  # within the bound: still trusted
    assert memory.recall(key) is None
    assert ask(client, shop).status_code == 401


def test_a_refresh_of_a_bad_key_forgets_it(
    session_factory: sessionmaker[Session], shop: Shop, clock: Clock
) -> None:
    memory = TillMemory(session_factory, clock=clock)
    memory.refresh("rgt_000000000000_x")  # refused quietly: nothing to answer to
    assert memory.recall("rgt_000000000000_x") is None
    memory.refresh(shop.world.api_key)
    assert memory.recall(shop.world.api_key) is not None
