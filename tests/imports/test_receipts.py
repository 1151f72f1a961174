"""Bulk import of receipts: lines grouped by receipt, a bad line keeps its receipt out."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from regulars.catalog.models import Store, Terminal
from regulars.imports.service import import_file
from regulars.members.models import Member
from regulars.sales.models import Receipt, ReceiptLine
from tests.factories.imports import errors_by_line, write_table
from tests.factories.world import World, build_world, ean13

AT = "2026-11-20T10:15:00+08:00"


@pytest.fixture
def world(uow) -> World:
    return build_world(uow)


def _line(receipt_no: str, **over: object) -> dict[str, object]:
    row: dict[str, object] = {
        "store": "S001",
        "terminal": "T01",
        "receipt_no": receipt_no,
        "occurred_at": AT,
        "member_card": None,
        "barcode": ean13(1),
        "sku": None,
        "quantity": "2",
        "unit_price": "3.50",
        "discount": "0.50",
        "amount": "6.50",
        "payment_method": "wechat_pay",
    }
    row.update(over)
    return row


def rows(world: World) -> list[dict[str, object]]:
    card = world.members[0].card_no
    return [
        _line("R1", member_card=card),  # 2
        _line(
            "R1",
            member_card=card,
            barcode=None,
            sku="SKU0002",
            quantity="1",
            unit_price="4.50",
            discount=None,
            amount="4.50",
        ),  # 3
        _line("R2"),  # 4
        _line("R2", amount="9.99"),  # 5 bad
        _line("R3", occurred_at="2026-11-20 10:15:00"),  # 6 bad
        _line("R4", barcode=ean13(777)),  # 7 bad
        _line("R5", store="S999", terminal="T09", payment_method=None),  # 8
        _line("R6", member_card="NOSUCH01"),  # 9 bad
        _line("R7", quantity="0", amount="-0.50"),  # 10 bad
        _line("R1", member_card=card, occurred_at="2026-11-21T10:15:00+08:00"),  # 11 bad
    ]


def _counts(uow) -> tuple[int, int, int]:
    return tuple(  # type: ignore[return-value]
        int(uow.session.scalar(select(func.count()).select_from(m)) or 0)
        for m in (Receipt, ReceiptLine, Store)
    )


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_receipts_good_lines_load_bad_lines_reported_rerun_unchanged(
    uow, tmp_path, world, suffix
) -> None:
    data = rows(world)
    # R1's conflicting line 11 would keep R1 out; keep it for the consistency check only.
    path = write_table(tmp_path / f"receipts{suffix}", data[:-1])
    before = _counts(uow)
    run, outcome = import_file(uow, kind="receipts", data=path, filename=path.name)
    errors = errors_by_line(outcome)
    assert set(errors) == {4, 5, 6, 7, 9, 10}
    assert errors[5][0][0] == "amount" and "quantity × unit_price" in errors[5][0][1]
    assert errors[4] == [("receipt_no", "receipt R2 has a bad line 5")]
    assert errors[6] == [("occurred_at", "must carry a time zone (e.g. +08:00 or Z)")]
    assert errors[7] == [("barcode", "product not found")]
    assert errors[9] == [("member_card", "member not found")]
    assert ("quantity", "must be above 0 and at most 100000") in errors[10]
    assert (run.rows_total, run.rows_loaded, run.rows_unchanged, run.rows_bad) == (9, 3, 0, 6)
    assert _counts(uow) == (before[0] + 2, before[1] + 3, before[2] + 1)

    r1 = uow.session.scalars(select(Receipt).where(Receipt.receipt_no == "R1")).one()
    assert (
        r1.total == Decimal("11.00") and r1.discount_total == Decimal("0.50") and r1.line_count == 2
    )
    assert r1.member_id == world.members[0].id and r1.source == "import"
    assert r1.occurred_at == datetime(2026, 11, 20, 2, 15, tzinfo=UTC)
    assert r1.recorded_at.tzinfo is not None and r1.content_hash and len(r1.content_hash) == 64
    assert r1.payments == [{"method": "wechat_pay", "amount": "11.00"}]
    assert r1.response == {}  # no till to answer: a till's replay is answered from the row
    lines = uow.session.scalars(
        select(ReceiptLine).where(ReceiptLine.receipt_id == r1.id).order_by(ReceiptLine.line_no)
    ).all()
    assert [(x.line_no, x.quantity, x.unit_price, x.discount, x.amount) for x in lines] == [
        (1, Decimal("2"), Decimal("3.50"), Decimal("0.50"), Decimal("6.50")),
        (2, Decimal("1"), Decimal("4.50"), Decimal("0"), Decimal("4.50")),
    ]
    member = uow.session.get(Member, world.members[0].id)
    uow.session.refresh(member)
    assert member.first_purchase_at is not None and member.first_purchase_category == "GROCERY"
    new_store = uow.session.scalars(select(Store).where(Store.code == "S999")).one()
    assert uow.session.scalars(
        select(Terminal.code).where(Terminal.store_id == new_store.id)
    ).all() == ["T09"]

    again, _o = import_file(uow, kind="receipts", data=path, filename=path.name)
    assert (again.rows_loaded, again.rows_unchanged, again.rows_bad) == (0, 3, 6)
    assert _counts(uow) == (before[0] + 2, before[1] + 3, before[2] + 1)


def test_receipt_lines_must_agree_and_changed_receipt_conflicts(uow, tmp_path, world) -> None:
    data = rows(world)
    mixed = write_table(tmp_path / "mixed.csv", [data[0], data[1], data[-1]])
    run, outcome = import_file(uow, kind="receipts", data=mixed, filename="mixed.csv")
    errors = errors_by_line(outcome)
    assert errors[4] == [("occurred_at", "differs from line 2 of the same receipt")]
    assert errors[2] == errors[3] == [("receipt_no", "receipt R1 has a bad line 4")]
    assert run.rows_loaded == 0

    good = write_table(tmp_path / "good.csv", data[:2])
    assert import_file(uow, kind="receipts", data=good, filename="good.csv")[0].rows_loaded == 2
    changed = write_table(
        tmp_path / "changed.csv", [data[0], {**data[1], "quantity": "2", "amount": "9.00"}]
    )
    run, outcome = import_file(uow, kind="receipts", data=changed, filename="changed.csv")
    assert (run.rows_loaded, run.rows_bad) == (0, 2)
    assert errors_by_line(outcome)[2] == [
        ("receipt_no", "receipt R1 was already recorded with different content")
    ]


def test_first_purchase_only_moves_earlier_and_names_the_largest_line(uow, tmp_path, world) -> None:
    early, late = world.members[0], world.members[1]
    world.products[2].department = "PRODUCE"
    early.first_purchase_at = datetime(2026, 1, 1, tzinfo=UTC)
    early.first_purchase_category = "BAKERY"
    late.first_purchase_at = datetime(2027, 1, 1, tzinfo=UTC)
    late.first_purchase_category = "BAKERY"
    uow.flush()
    big = {"barcode": ean13(3), "quantity": "3", "unit_price": "5.50", "amount": "16.00"}
    data = [
        _line("E1", member_card=early.card_no),
        # A later receipt first in the file: the earliest one counts, not the first line.
        _line("L2", member_card=late.card_no, occurred_at="2026-11-22T10:15:00+08:00"),
        _line("L1", member_card=late.card_no),
        _line("L1", member_card=late.card_no, **big),
    ]
    path = write_table(tmp_path / "first.csv", data)
    run, _outcome = import_file(uow, kind="receipts", data=path, filename=path.name)
    assert run.rows_loaded == 4
    # Written in time order: the later receipt, first in the file, gets the higher id.
    ids = dict(uow.session.execute(select(Receipt.receipt_no, Receipt.id)).all())
    assert ids["L1"] < ids["L2"]
    for member in (early, late):
        uow.session.refresh(member)
    assert (early.first_purchase_at, early.first_purchase_category) == (
        datetime(2026, 1, 1, tzinfo=UTC),
        "BAKERY",
    )
    assert (late.first_purchase_at, late.first_purchase_category) == (
        datetime(2026, 11, 20, 2, 15, tzinfo=UTC),
        "PRODUCE",
    )
