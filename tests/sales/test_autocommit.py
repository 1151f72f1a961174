"""An anonymous sale of known barcodes is recorded without a transaction on PostgreSQL
(autocommit: no BEGIN and COMMIT round trips), everything else in one; answers do not
differ either way."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, event, func, select

from regulars.catalog.models import Product
from regulars.core.config import Settings
from regulars.core.db import make_engine, make_session_factory
from regulars.core.uow import UnitOfWork
from regulars.entrypoints.app import create_app
from regulars.sales import service
from regulars.sales.models import Receipt, ReceiptLine
from regulars.sales.schemas import ReceiptIn
from tests.factories.world import World, build_world, ean13, receipt_payload


class Served:
    """An app on a database of its own whose requests commit, and what it ran."""

    def __init__(self, engine: Engine, app: FastAPI, world: World) -> None:
        self.engine = engine
        self.app = app
        self.world = world
        #: (statement's first words, whether its connection was in autocommit mode)
        self.writes: list[tuple[str, bool]] = []


@pytest.fixture
def served(fresh_database: str, settings: Settings) -> Iterator[Served]:
    engine = make_engine(fresh_database)
    with UnitOfWork(make_session_factory(engine)) as uow:
        world = build_world(uow, members=1)
        uow.commit()
    app = create_app(settings, engine=engine)
    app.state.session_factory = make_session_factory(engine)
    made = Served(engine, app, world)

    def record(conn: Any, _cursor: Any, sql: str, *_args: Any) -> None:
        words = " ".join(sql.split()[:3]).upper()
        if words.startswith(("INSERT", "WITH", "UPDATE")):
            made.writes.append(
                (words, bool(getattr(conn.connection.dbapi_connection, "autocommit", False)))
            )

    event.listen(engine, "before_cursor_execute", record)
    yield made
    event.remove(engine, "before_cursor_execute", record)
    engine.dispose()


def _counts(engine: Engine) -> tuple[int, int, int]:
    with engine.connect() as conn:
        return (
            conn.execute(select(func.count()).select_from(Receipt)).scalar_one(),
            conn.execute(select(func.count()).select_from(ReceiptLine)).scalar_one(),
            conn.execute(select(func.count()).select_from(Product)).scalar_one(),
        )


def test_anonymous_sale_is_one_autocommitted_write_with_the_same_answers(
    served: Served, database_url: str
) -> None:
    world = served.world
    payload = receipt_payload(world, "AC-1", member=False, lines=3)
    with TestClient(served.app) as client:
        first = client.post("/api/v1/receipts", json=payload, headers=world.till())
        again = client.post("/api/v1/receipts", json=payload, headers=world.till())
        other = client.post(
            "/api/v1/receipts", json={**payload, "cashier": "someone else"}, headers=world.till()
        )
    assert first.status_code == 201, first.text
    assert again.status_code == 200 and again.json() == first.json()
    assert other.status_code == 409 and "receipt_no" in other.text
    receipts, lines, _products = _counts(served.engine)
    assert (receipts, lines) == (1, 3)
    postgresql = database_url.startswith("postgresql")
    assert served.writes and all(auto is postgresql for _words, auto in served.writes)


def test_member_or_unknown_barcode_is_recorded_in_a_transaction(served: Served) -> None:
    world = served.world
    member = receipt_payload(world, "AC-2", member=True)
    unknown = receipt_payload(world, "AC-3", member=False, lines=1)
    unknown["lines"][0]["barcode"] = ean13(987_654)  # type: ignore[index]
    with TestClient(served.app) as client:
        for payload in (member, unknown):
            answer = client.post("/api/v1/receipts", json=payload, headers=world.till())
            assert answer.status_code == 201, answer.text
    receipts, _lines, products = _counts(served.engine)
    assert receipts == 2 and products == len(world.products) + 1  # the new barcode's product
    assert served.writes and not any(auto for _words, auto in served.writes)


def test_autocommit_refuses_before_writing_what_needs_a_transaction(uow: UnitOfWork) -> None:
    world = build_world(uow)
    member = ReceiptIn.model_validate(receipt_payload(world, "AC-4", member=True))
    assert not service.fits_autocommit(member)
    unknown_payload = receipt_payload(world, "AC-5", member=False, lines=1)
    unknown_payload["lines"][0]["barcode"] = ean13(987_654)  # type: ignore[index]
    unknown = ReceiptIn.model_validate(unknown_payload)
    assert service.fits_autocommit(unknown)
    before = uow.session.scalar(select(func.count()).select_from(Product))
    for data in (member, unknown):
        with pytest.raises(service.NeedsTransaction):
            service.receipt_record(
                uow, store=world.store, terminal=world.terminal, data=data, autocommit=True
            )
    assert uow.session.scalar(select(func.count()).select_from(Product)) == before
    assert uow.session.scalar(select(func.count()).select_from(Receipt)) == 0
