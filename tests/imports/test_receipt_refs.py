"""A receipts batch checks its references set-based: key-share locks, then rows without triggers.

PostgreSQL tests are skipped on SQLite; the test of parents deleted between batches runs
on both.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import polars as pl
import pytest
from sqlalchemy import Engine, func, select, text
from sqlalchemy.exc import DBAPIError, IntegrityError

from regulars.core.db import make_engine, make_session_factory
from regulars.core.uow import UnitOfWork
from regulars.imports import receipts
from regulars.imports.formats import read_frame
from regulars.imports.outcome import Outcome
from regulars.imports.receipt_refs import schema_problems
from regulars.imports.receipts import ReceiptsResult, receipts_load
from regulars.imports.service import import_file
from regulars.sales.models import Receipt, ReceiptLine
from tests.factories.imports import errors_by_line, write_table
from tests.factories.world import World, build_world

TABLES = "('receipt'::regclass, 'receipt_line'::regclass)"


@pytest.fixture
def pg(engine: Engine) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("PostgreSQL only: SQLite checks its keys per row itself")


def _line(world: World, receipt_no: str, *, product: int = 0, **over: object) -> dict[str, object]:
    item = world.products[product]
    price = item.unit_price
    row: dict[str, object] = {
        "store": world.store.code,
        "terminal": "T01",
        "receipt_no": receipt_no,
        "occurred_at": f"2026-11-20T10:{int(receipt_no[1:]) % 60:02d}:00+08:00",
        "member_card": world.members[0].card_no,
        "sku": item.sku,
        "quantity": "1",
        "unit_price": str(price),
        "amount": str(price),
    }
    row.update(over)
    return row


def _load(uow: UnitOfWork, tmp_path: Path, rows: list[dict[str, object]]) -> ReceiptsResult:
    path = write_table(tmp_path / "receipts.csv", rows)
    frame = read_frame(path.read_bytes(), filename=path.name, kind="receipts")
    return receipts_load(uow, frame, outcome=Outcome())


def _lines_of(uow: UnitOfWork, receipt_nos: list[str]) -> int:
    return int(
        uow.session.scalar(
            select(func.count())
            .select_from(ReceiptLine)
            .join(Receipt, Receipt.id == ReceiptLine.receipt_id)
            .where(Receipt.receipt_no.in_(receipt_nos))
        )
        or 0
    )


@pytest.mark.postgres
def test_receipt_tables_have_no_trigger_but_their_foreign_keys(uow, pg) -> None:
    # Replica mode would skip such a trigger: a new one must be a decision, not a surprise.
    own = uow.session.execute(
        text(f"SELECT tgname FROM pg_trigger WHERE tgrelid IN {TABLES} AND NOT tgisinternal")
    ).all()
    rules = uow.session.execute(text(f"SELECT rulename FROM pg_rewrite WHERE ev_class IN {TABLES}"))
    assert own == [] and rules.all() == []
    assert schema_problems(uow) == []


@pytest.mark.postgres
def test_the_import_writes_without_row_triggers_when_permitted(uow, tmp_path, pg) -> None:
    world = build_world(uow)
    rows = [_line(world, "R1"), _line(world, "R1", product=1), _line(world, "R2", product=2)]
    result = _load(uow, tmp_path, rows)
    assert result.row_triggers_skipped
    assert _lines_of(uow, ["R1", "R2"]) == 3
    # The setting is put back after the writes: the same transaction checks keys again.
    role = uow.session.scalar(text("SELECT current_setting('session_replication_role')"))
    assert role == "origin"
    with pytest.raises(IntegrityError), uow.session.begin_nested():
        uow.session.execute(
            text(
                "INSERT INTO receipt_line (receipt_id, line_no, product_id, quantity,"
                " unit_price, discount, amount) VALUES (-1, 1, -1, 1, 1, 0, 1)"
            )
        )


@pytest.mark.postgres
def test_without_the_privilege_the_import_falls_back_to_the_triggers(uow, tmp_path, pg) -> None:
    world = build_world(uow)
    role = f"regulars_import_{uuid.uuid4().hex[:8]}"
    session = uow.session
    session.execute(text(f'CREATE ROLE "{role}" NOLOGIN'))
    try:
        session.execute(text(f'GRANT ALL ON ALL TABLES IN SCHEMA public TO "{role}"'))
        session.execute(text(f'GRANT ALL ON ALL SEQUENCES IN SCHEMA public TO "{role}"'))
        session.execute(text(f'SET ROLE "{role}"'))
        rows = [_line(world, "R1"), _line(world, "R2", product=1), _line(world, "R3", product=2)]
        result = _load(uow, tmp_path, rows)
        assert not result.row_triggers_skipped
        assert _lines_of(uow, ["R1", "R2", "R3"]) == 3
        assert session.scalar(text("SELECT current_user")) == role
    finally:
        session.execute(text("RESET ROLE"))
        session.execute(text(f'DROP OWNED BY "{role}"'))
        session.execute(text(f'DROP ROLE "{role}"'))


@pytest.mark.postgres
def test_a_trigger_on_the_receipt_tables_turns_the_fast_path_off(uow, tmp_path, pg) -> None:
    world = build_world(uow)
    uow.session.execute(
        text(
            "CREATE FUNCTION pg_temp.stamp_cashier() RETURNS trigger LANGUAGE plpgsql AS"
            " $$ BEGIN NEW.cashier := 'stamped'; RETURN NEW; END $$"
        )
    )
    uow.session.execute(
        text(
            "CREATE TRIGGER stamp_cashier BEFORE INSERT ON receipt"
            " FOR EACH ROW EXECUTE FUNCTION pg_temp.stamp_cashier()"
        )
    )
    assert schema_problems(uow) == ["trigger stamp_cashier on receipt"]
    result = _load(uow, tmp_path, [_line(world, "R1")])
    assert not result.row_triggers_skipped
    cashier = uow.session.scalar(select(Receipt.cashier).where(Receipt.receipt_no == "R1"))
    assert cashier == "stamped"


@pytest.fixture
def committed(fresh_database: str) -> Iterator[tuple[Engine, World]]:
    """A fresh database with a committed world, and its engine."""
    engine = make_engine(fresh_database)
    with UnitOfWork(make_session_factory(engine)) as uow:
        world = build_world(uow)
        uow.commit()
    yield engine, world
    engine.dispose()


def _dangling(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(
            conn.execute(
                text(
                    "SELECT count(*) FROM receipt_line l LEFT JOIN product p ON p.id = l.product_id"
                    " LEFT JOIN receipt r ON r.id = l.receipt_id"
                    " WHERE p.id IS NULL OR r.id IS NULL"
                )
            ).scalar_one()
            + conn.execute(
                text(
                    "SELECT count(*) FROM receipt r LEFT JOIN terminal t ON t.id = r.terminal_id"
                    " LEFT JOIN member m ON m.id = r.member_id"
                    " WHERE t.id IS NULL OR (r.member_id IS NOT NULL AND m.id IS NULL)"
                )
            ).scalar_one()
        )


def test_parents_deleted_between_batches_leave_their_receipts_out(
    committed, tmp_path, monkeypatch
) -> None:
    engine, world = committed
    monkeypatch.setattr(receipts, "BATCH_RECEIPTS", {"sqlite": 1, "postgresql": 1})
    spare = world.products[4]
    rows = [
        _line(world, "R1"),
        _line(world, "R2", product=1),
        _line(world, "R2", product=4),  # line 4: its product goes after the first batch
        _line(world, "R3", terminal="T09"),  # a new till, made by the import, then deleted
        _line(world, "R4", product=2),
    ]
    path = write_table(tmp_path / "receipts.csv", rows)
    with UnitOfWork(make_session_factory(engine)) as uow:
        batches = 0

        def checkpoint() -> None:
            nonlocal batches
            uow.commit()
            batches += 1
            if batches == 1:
                with engine.begin() as other:
                    other.execute(text("DELETE FROM product WHERE id = :id"), {"id": spare.id})
                    other.execute(text("DELETE FROM terminal WHERE code = 'T09'"))

        run, outcome = import_file(
            uow, kind="receipts", data=path, filename=path.name, checkpoint=checkpoint
        )
        uow.commit()
    assert errors_by_line(outcome) == {
        3: [("receipt_no", "receipt R2 has a bad line 4")],
        4: [("sku", "product not found")],
        5: [("terminal", "terminal T09 not found")],
    }
    assert (run.rows_loaded, run.rows_bad) == (2, 3)
    assert _dangling(engine) == 0
    with engine.connect() as conn:
        loaded = conn.execute(text("SELECT receipt_no FROM receipt ORDER BY receipt_no")).all()
    assert [r for (r,) in loaded] == ["R1", "R4"]


@pytest.mark.postgres
def test_a_parent_the_batch_has_locked_cannot_be_deleted(committed, tmp_path, pg) -> None:
    engine, world = committed
    product = world.products[3]
    path = write_table(tmp_path / "receipts.csv", [_line(world, "R1", product=3)])
    frame = read_frame(path.read_bytes(), filename=path.name, kind="receipts")
    with UnitOfWork(make_session_factory(engine)) as uow:
        # No checkpoint: the batch's transaction, and its locks, stay open.
        assert receipts_load(uow, frame, outcome=Outcome()).row_triggers_skipped
        with engine.connect() as other:
            other.execute(text("SET lock_timeout = '300ms'"))
            with pytest.raises(DBAPIError) as waited:
                other.execute(text("DELETE FROM product WHERE id = :id"), {"id": product.id})
            assert getattr(waited.value.orig, "sqlstate", None) == "55P03"  # lock_not_available
            other.rollback()
        uow.commit()
    with engine.connect() as other, pytest.raises(IntegrityError):
        other.execute(text("DELETE FROM product WHERE id = :id"), {"id": product.id})
    assert _dangling(engine) == 0


def test_partial_indexes_leave_sales_out_of_the_return_links(uow) -> None:
    bind = uow.session.get_bind()
    if bind.dialect.name == "postgresql":
        query = "SELECT indexdef FROM pg_indexes WHERE indexname = :name"
    else:
        query = "SELECT sql FROM sqlite_master WHERE type = 'index' AND name = :name"
    for name, column in (
        ("ix_receipt_original_receipt_id", "original_receipt_id"),
        ("ix_receipt_line_original_line_id", "original_line_id"),
    ):
        definition = uow.session.scalar(text(query), {"name": name})
        assert definition is not None
        assert definition.replace("(", "").replace(")", "").endswith(f"{column} IS NOT NULL")


def test_rows_resolved_by_the_import_all_find_their_parents(uow, tmp_path) -> None:
    world = build_world(uow)
    rows = [_line(world, f"R{i}", product=i % 5) for i in range(1, 8)]
    rows.append(_line(world, "R9", member_card=None))
    result = _load(uow, tmp_path, rows)
    assert result.member_ids == {world.members[0].id}
    assert _lines_of(uow, [f"R{i}" for i in (*range(1, 8), 9)]) == 8
    frame = pl.DataFrame(
        uow.session.execute(select(Receipt.receipt_no, Receipt.member_id)).all(),
        schema={"no": pl.String, "member": pl.Int64},
        orient="row",
    )
    assert frame.filter(pl.col("no") == "R9")["member"].to_list() == [None]
