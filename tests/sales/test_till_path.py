"""The till's hot path: the till key remembered for a short time, few statements per
receipt, and replays still answered when the receipt's member has since gone."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import Engine, event, func, select, update

from regulars.catalog import service as catalog_service
from regulars.catalog.models import Product, Terminal
from regulars.catalog.queries import TILL_KEY_TTL, TillKeys
from regulars.core.timeutil import utcnow
from regulars.core.uow import UnitOfWork
from regulars.members.models import Member
from regulars.sales.models import ReceiptLine
from tests.factories.world import World, build_world, receipt_payload


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def world(uow: UnitOfWork) -> World:
    return build_world(uow)


@pytest.fixture
def clock(app: FastAPI) -> Clock:
    """The app's till-key memory, on a clock of the test's."""
    made = Clock()
    app.state.till_keys = TillKeys(clock=made)
    return made


@pytest.fixture
def statements(engine: Engine) -> Iterator[list[str]]:
    """Every SQL statement run while the test runs."""
    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, sql: str, *_args: Any) -> None:
        seen.append(" ".join(sql.split()).upper())

    event.listen(engine, "before_cursor_execute", record)
    yield seen
    event.remove(engine, "before_cursor_execute", record)


def _post(client: Any, world: World, receipt_no: str, **kwargs: Any) -> Any:
    return client.post(
        "/api/v1/receipts", json=receipt_payload(world, receipt_no, **kwargs), headers=world.till()
    )


def test_a_checked_key_is_not_read_again_until_its_time_is_up(
    client: Any, world: World, clock: Clock, statements: list[str]
) -> None:
    assert _post(client, world, "K-1").status_code == 201
    assert _post(client, world, "K-2").status_code == 201
    assert sum("FROM TERMINAL" in sql for sql in statements) == 1
    clock.now += TILL_KEY_TTL
    assert _post(client, world, "K-3").status_code == 201
    assert sum("FROM TERMINAL" in sql for sql in statements) == 2


def test_a_key_revoked_elsewhere_stops_working_once_its_time_is_up(
    client: Any, uow: UnitOfWork, world: World, clock: Clock
) -> None:
    assert _post(client, world, "V-1").status_code == 201
    # As another server process would: the row changes, this process is not told.
    uow.session.execute(
        update(Terminal).where(Terminal.id == world.terminal.id).values(key_revoked_at=utcnow())
    )
    uow.commit()
    clock.now += TILL_KEY_TTL - 0.5
    assert _post(client, world, "V-2").status_code == 201  # the documented bound
    clock.now += 0.5
    assert _post(client, world, "V-3").status_code == 401
    clock.now += 0.1
    assert _post(client, world, "V-4").status_code == 401  # a refusal is never remembered


def test_a_key_revoked_or_replaced_in_this_process_stops_working_at_once(
    client: Any, uow: UnitOfWork, world: World, clock: Clock
) -> None:
    assert _post(client, world, "N-1").status_code == 201
    new = catalog_service.terminal_issue_key(uow, store_code=world.store.code, terminal_code="T01")
    uow.commit()
    assert _post(client, world, "N-2").status_code == 401
    fresh = receipt_payload(world, "N-3")
    headers = {"X-Api-Key": new.api_key}
    assert client.post("/api/v1/receipts", json=fresh, headers=headers).status_code == 201
    catalog_service.terminal_revoke_key(uow, store_code=world.store.code, terminal_code="T01")
    uow.commit()
    fresh = receipt_payload(world, "N-4")
    assert client.post("/api/v1/receipts", json=fresh, headers=headers).status_code == 401


def test_a_first_send_inserts_without_reading_the_receipt_first(
    client: Any, world: World, clock: Clock, statements: list[str], engine: Engine
) -> None:
    assert _post(client, world, "S-1", member=False).status_code == 201  # key read, warm
    statements.clear()
    answer = _post(client, world, "S-2", member=False, lines=2)
    assert answer.status_code == 201, answer.text
    assert not [sql for sql in statements if "FROM RECEIPT " in sql or "FROM TERMINAL" in sql]
    line_inserts = [sql for sql in statements if sql.startswith("INSERT INTO RECEIPT_LINE")]
    if engine.dialect.name == "postgresql":
        # An anonymous sale of known barcodes is one statement: its products are found,
        # the receipt and its lines inserted, by one data-modifying CTE.
        # (The test's own transaction wraps the request in a savepoint.)
        work = [sql for sql in statements if "SAVEPOINT" not in sql]
        assert len(work) == 1 and work[0].startswith("WITH PRICED AS"), work
    else:
        assert len(line_inserts) == 1


def test_receipts_of_any_size_share_one_statement_for_receipt_and_lines(
    client: Any, uow: UnitOfWork, world: World, clock: Clock, statements: list[str]
) -> None:
    for n, size in enumerate((1, 2, 3), start=1):
        assert _post(client, world, f"Z-{n}", lines=size).status_code == 201
    counts = [
        uow.session.scalar(
            select(func.count()).select_from(ReceiptLine).where(ReceiptLine.line_no == n)
        )
        for n in (1, 2, 3)
    ]
    assert counts == [3, 2, 1]
    writes = {
        sql
        for sql in statements
        if sql.startswith("INSERT INTO RECEIPT ")
        or (sql.startswith("WITH ") and "NEW_RECEIPT AS" in sql)
    }
    # The member's first receipt also moves their first purchase (PostgreSQL: one more CTE
    # in the same statement); the other two, of other sizes, share one statement.
    assert len({sql for sql in writes if "FIRST_PURCHASE AS" not in sql}) == 1


def test_a_replay_is_answered_after_its_member_is_gone(
    client: Any, uow: UnitOfWork, world: World, clock: Clock
) -> None:
    first = _post(client, world, "G-1")
    assert first.status_code == 201, first.text
    uow.session.execute(
        update(Member).where(Member.id == world.members[0].id).values(status="erased")
    )
    uow.commit()
    again = _post(client, world, "G-1")
    assert again.status_code == 200, again.text
    assert again.headers["Idempotent-Replay"] == "true"
    assert again.json() == first.json()
    refused = _post(client, world, "G-2")
    assert refused.status_code == 422
    assert refused.json()["error"]["field"] == "member"
    changed = receipt_payload(world, "G-1", lines=1)
    conflict = client.post("/api/v1/receipts", json=changed, headers=world.till())
    assert conflict.status_code == 409
    assert conflict.json()["error"]["field"] == "receipt_no"


def test_a_members_receipt_reads_lists_only_with_the_member_and_writes_its_answer_once(
    client: Any, world: World, clock: Clock, statements: list[str], engine: Engine
) -> None:
    assert _post(client, world, "M-0").status_code == 201  # key read, programme cached
    statements.clear()
    first = _post(client, world, "M-1")
    assert first.status_code == 201, first.text
    # Without a list valid now, the member read's EXISTS is the only look at the lists.
    list_reads = [sql for sql in statements if "PERSONAL_LIST" in sql]
    assert len(list_reads) == 1
    assert list_reads[0].startswith("SELECT MEMBER.ID")
    # The same read found the receipt's products: no product statement of their own.
    assert "FROM PRODUCT" in list_reads[0]
    assert not [sql for sql in statements if sql.startswith("SELECT PRODUCT.")]
    answer_writes = [sql for sql in statements if sql.startswith("UPDATE RECEIPT")]
    points_writes = [sql for sql in statements if "INSERT INTO POINTS_LINE" in sql]
    if engine.dialect.name == "postgresql":
        # The receipt, its lines, its points and the answer with them: one statement.
        assert not [sql for sql in statements if "UPDATE RECEIPT" in sql]
        assert len(points_writes) == 1
        assert points_writes[0].startswith("WITH ") and "NEW_RECEIPT AS" in points_writes[0]
        assert not [
            sql
            for sql in statements
            if "POINTS_ACCOUNT" in sql and sql is not points_writes[0] and "FOR UPDATE" not in sql
        ]
    else:
        # SQLite: the member's read brought the points before the receipt, so the answer
        # is whole when the receipt is inserted; the points follow in their own statements.
        assert not answer_writes
        assert len(points_writes) == 1
        assert not [sql for sql in statements if sql.startswith("SELECT POINTS_LINE")]
    body = first.json()
    assert {"points_earned", "balance", "pending", "tier"} <= body.keys()
    replay = _post(client, world, "M-1")
    assert replay.status_code == 200
    assert replay.json() == body


def test_psycopg_caches_the_till_statement(engine: Engine) -> None:
    """psycopg re-parses a statement over its cache limits on every execution; the member's
    receipt statement is kept within the limits that ``core.db`` raises."""
    from psycopg import _queries
    from sqlalchemy.dialects import postgresql

    from regulars.core.db import make_engine
    from regulars.sales.service import RECEIPT_WITH_POINTS_PG

    make_engine("postgresql+psycopg://127.0.0.1/unused").dispose()  # raises the limits
    for statement in RECEIPT_WITH_POINTS_PG.values():
        compiled = statement.compile(dialect=postgresql.dialect())
        assert len(str(compiled).encode()) <= _queries.MAX_CACHED_STATEMENT_LENGTH
        assert len(compiled.params) <= _queries.MAX_CACHED_STATEMENT_PARAMS


def test_a_members_receipt_finds_known_unknown_and_sku_lines_products(
    client: Any, uow: UnitOfWork, world: World, clock: Clock
) -> None:
    """The member's read finds the barcodes' products; an unknown barcode still becomes a
    product to review, and a line sent by SKU is still found by its SKU."""
    payload = receipt_payload(world, "P-1", lines=2)
    lines: list[dict[str, Any]] = payload["lines"]  # type: ignore[assignment]
    known, by_sku = lines
    by_sku.pop("barcode")
    by_sku["sku"] = world.products[1].sku
    unknown = {**known, "barcode": "6901234567892"}
    payload["lines"] = [known, by_sku, unknown]
    payload["total"] = str(sum(Decimal(line["amount"]) for line in payload["lines"]))  # type: ignore[attr-defined]
    payload["payments"] = [{"method": "cash", "amount": payload["total"]}]
    answer = client.post("/api/v1/receipts", json=payload, headers=world.till())
    assert answer.status_code == 201, answer.text
    recorded = dict(
        uow.session.execute(
            select(ReceiptLine.line_no, ReceiptLine.product_id).where(
                ReceiptLine.receipt_id == answer.json()["receipt_id"]
            )
        ).all()
    )
    placeholder = uow.session.scalars(
        select(Product).where(Product.barcode == "6901234567892")
    ).one()
    assert recorded == {1: world.products[0].id, 2: world.products[1].id, 3: placeholder.id}


def test_a_replay_does_not_work_out_points_again(
    client: Any, world: World, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The member's read says the receipt's key is taken, so loyalty is not asked to work
    out points that the replay would not write."""
    from regulars.sales import service as sales_service

    planned: list[int] = []
    real = sales_service.loyalty.receipt_plan

    def counting(*args: Any, **kwargs: Any) -> Any:
        planned.append(kwargs["member_id"])
        return real(*args, **kwargs)

    monkeypatch.setattr(sales_service.loyalty, "receipt_plan", counting)
    assert _post(client, world, "RP-0").status_code == 201  # the account exists from here
    planned.clear()
    first = _post(client, world, "RP-1")
    assert first.status_code == 201, first.text
    assert len(planned) == 1
    again = _post(client, world, "RP-1")
    assert again.status_code == 200 and again.json() == first.json()
    assert len(planned) == 1
