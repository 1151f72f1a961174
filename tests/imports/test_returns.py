"""Bulk import of returns: each return goes the till's way, a bad row keeps its return out.

Sales come from the till (so the member earns points); the returns file then names them
by their receipt number and line numbers. A till's return found in the file is unchanged,
and a till replaying a return that came in from the file is answered as a replay.
"""

from __future__ import annotations

import re
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from regulars.core.uow import UnitOfWork
from regulars.imports.service import import_file
from regulars.loyalty.models import PointsLine
from regulars.sales.models import Receipt, ReceiptLine
from tests.factories.imports import errors_by_line, write_table
from tests.factories.web import csrf_of, login, make_staff
from tests.factories.world import World, build_world, receipt_payload

AT = "2026-11-21T09:00:00+08:00"


@pytest.fixture
def world(uow: UnitOfWork) -> World:
    return build_world(uow)


def _sell(client: Any, world: World, receipt_no: str) -> dict[str, object]:
    payload = receipt_payload(world, receipt_no)
    answer = client.post("/api/v1/receipts", json=payload, headers=world.till())
    assert answer.status_code == 201, answer.text
    return payload


def _row(receipt_no: str, original: str, line_no: object, quantity: object, **over: object):
    row: dict[str, object] = {
        "store": "S001",
        "terminal": "T01",
        "receipt_no": receipt_no,
        "occurred_at": AT,
        "cashier": "c02",
        "original_receipt_no": original,
        "line_no": line_no,
        "quantity": quantity,
        "amount": None,
        "payment_method": None,
        "reason": "damaged",
    }
    row.update(over)
    return row


def _returns(uow: UnitOfWork) -> dict[str, Receipt]:
    return {
        r.receipt_no: r
        for r in uow.session.scalars(select(Receipt).where(Receipt.kind == "return"))
    }


def _import(uow: UnitOfWork, path: Path) -> Any:
    return import_file(uow, kind="returns", data=path, filename=path.name)


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_returns_load_bad_rows_are_reported_and_a_rerun_changes_nothing(
    client: Any, uow: UnitOfWork, world: World, tmp_path: Path, suffix: str
) -> None:
    sale = _sell(client, world, "S-1")
    _sell(client, world, "S-2")
    lines: list[dict[str, str]] = sale["lines"]  # type: ignore[assignment]
    refund_2 = Decimal(lines[1]["amount"])
    rows = [
        _row("RET-1", "S-1", "1", "1"),  # 2
        _row("RET-1", "S-1", "2", "2", amount=None),  # 3
        _row("RET-2", "S-2", "1", "3"),  # 4 bad: 2 bought
        _row("RET-3", "NOPE", "1", "1"),  # 5 bad: no such receipt
        _row("RET-4", "S-2", "9", "1"),  # 6 bad: no line 9
        _row("RET-5", "S-2", "1", "1"),  # 7 (its return has a bad line)
        _row("RET-5", "S-2", "2", "1", occurred_at="2026-11-22T09:00:00+08:00"),  # 8 bad
        _row("RET-6", "S-2", "1", "abc"),  # 9 bad
        _row("RET-7", "S-2", "1", "1", payment_method="cash"),  # 10 bad: no refund given
        _row("RET-8", "S-2", "1", "1", store=None),  # 11 bad
        _row("RET-9", "S-2", "2", "1", amount="1.00", payment_method="cash"),  # 12
    ]
    path = write_table(tmp_path / f"returns{suffix}", rows)
    points_before = uow.session.scalar(
        select(func.count()).select_from(PointsLine).where(PointsLine.kind == "reverse")
    )
    run, outcome = _import(uow, path)
    assert (run.rows_total, run.rows_loaded, run.rows_unchanged, run.rows_bad) == (11, 3, 0, 8)
    errors = errors_by_line(outcome)
    assert set(errors) == {4, 5, 6, 7, 8, 9, 10, 11}
    assert errors[4][0][0] == "quantity" and "cannot return 3" in errors[4][0][1]
    assert errors[5] == [("original_receipt_no", "original receipt NOPE not found")]
    assert errors[6] == [("line_no", "receipt S-2 has no line 9")]
    assert errors[7] == [("receipt_no", "receipt RET-5 has a bad line 8")]
    assert errors[8] == [("occurred_at", "differs from line 7 of the same receipt")]
    assert errors[9][0][0] == "quantity"
    assert errors[10][0][0] == "amount"
    assert errors[11] == [("store", "required")]

    found = _returns(uow)
    assert set(found) == {"RET-1", "RET-9"}
    ret = found["RET-1"]
    assert ret.source == "import" and ret.member_id == world.members[0].id
    stored = list(
        uow.session.scalars(
            select(ReceiptLine)
            .where(ReceiptLine.receipt_id == ret.id)
            .order_by(ReceiptLine.line_no)
        )
    )
    assert [line.quantity for line in stored] == [Decimal("-1"), Decimal("-2")]
    assert stored[1].amount == -refund_2  # the whole line: its whole amount
    assert all(line.original_line_id is not None for line in stored)
    assert found["RET-9"].payments == [{"method": "cash", "amount": "1.00"}]
    assert found["RET-9"].total == Decimal("-1.00")
    # The member earned points on S-1 and S-2 at the till: the returns take theirs back.
    points_after = uow.session.scalar(
        select(func.count()).select_from(PointsLine).where(PointsLine.kind == "reverse")
    )
    assert (points_after or 0) > (points_before or 0)

    again, outcome = _import(uow, path)
    assert (again.rows_loaded, again.rows_unchanged, again.rows_bad) == (0, 3, 8)
    assert set(_returns(uow)) == {"RET-1", "RET-9"}


def test_a_till_return_in_the_file_is_unchanged_and_a_file_return_is_a_till_replay(
    client: Any, uow: UnitOfWork, world: World, tmp_path: Path
) -> None:
    sale = _sell(client, world, "S-3")
    lines: list[dict[str, str]] = sale["lines"]  # type: ignore[assignment]
    refund = str((Decimal(lines[0]["amount"]) / 2).quantize(Decimal("0.01"), ROUND_HALF_UP))
    till_return = {
        "receipt_no": "RET-T",
        "occurred_at": AT,
        "cashier": "c02",
        "original_receipt_no": "S-3",
        "lines": [{"line_no": 1, "quantity": "1"}],
        # A till names a payment's reference; a file cannot, and it is not content.
        "payments": [{"method": "cash", "amount": refund, "reference": "drawer-7"}],
    }
    other_payment = {
        **till_return,
        "receipt_no": "RET-U",
        "payments": [{"method": "cash", "amount": "0.01"}],
    }
    for body in (till_return, other_payment):
        sent = client.post("/api/v1/returns", json=body, headers=world.till())
        assert sent.status_code == 201, sent.text
        assert sent.json()["total"] == f"-{refund}"
    file_return = {"amount": refund, "payment_method": "cash", "reason": None}
    rows = [
        _row("RET-T", "S-3", "1", "1", **file_return),  # 2: the till's: unchanged
        _row("RET-U", "S-3", "1", "1", **file_return),  # 3: another payment: a conflict
        _row("RET-F", "S-3", "2", "1"),  # 4: new
    ]
    run, outcome = _import(uow, write_table(tmp_path / "r.csv", rows))
    assert (run.rows_loaded, run.rows_unchanged, run.rows_bad) == (1, 1, 1), outcome.errors
    assert errors_by_line(outcome)[3] == [
        ("receipt_no", "receipt RET-U was already recorded with different content")
    ]

    # The till replays a return that came in from the file: the same return, a replay.
    replay = {
        "receipt_no": "RET-F",
        "occurred_at": AT,
        "cashier": "c02",
        "original_receipt_no": "S-3",
        "lines": [{"line_no": 2, "quantity": "1"}],
    }
    answer = client.post("/api/v1/returns", json=replay, headers=world.till())
    assert answer.status_code == 200, answer.text
    assert answer.headers.get("Idempotent-Replay") == "true"
    assert answer.json()["receipt_id"] == _returns(uow)["RET-F"].id
    other = {**replay, "lines": [{"line_no": 2, "quantity": "0.5"}]}
    assert client.post("/api/v1/returns", json=other, headers=world.till()).status_code == 409


def test_returns_upload_through_the_api_and_the_page(
    client: Any, uow: UnitOfWork, world: World
) -> None:
    _sell(client, world, "S-4")
    content = (
        "store,terminal,receipt_no,occurred_at,original_receipt_no,line_no,quantity\n"
        f"S001,T01,RET-A,{AT},S-4,1,1\n"
        f"S001,T01,RET-B,{AT},S-4,1,5\n"
    ).encode()
    answer = client.post(
        "/api/v1/imports/returns",
        files={"file": ("returns.csv", content, "text/csv")},
        headers=world.staff("admin"),
    )
    assert answer.status_code == 201, answer.text
    body = answer.json()
    assert (body["kind"], body["rows_loaded"], body["rows_bad"]) == ("returns", 1, 1)
    assert body["errors"][0]["line"] == 3 and body["errors"][0]["column"] == "quantity"

    make_staff(uow, "ret-imp", "admin")
    login(client, "ret-imp")
    page = client.get("/imports")
    assert '<option value="returns">' in page.text
    shown = client.post(
        "/imports",
        data={"csrf_token": csrf_of(page.text), "kind": "returns"},
        files={"file": ("returns.csv", content, "text/csv")},
        follow_redirects=True,
    )
    assert shown.status_code == 200
    assert re.search(r"2 rows: 0 loaded, 1 unchanged, 1 bad", shown.text), shown.text[-2000:]


def test_an_empty_required_cell_is_required_and_a_bad_refund_is_reported_once(
    client: Any, uow: UnitOfWork, world: World, tmp_path: Path
) -> None:
    _sell(client, world, "S-5")
    rows = [
        _row("RET-E", None, "1", "1"),  # type: ignore[arg-type]  # 2: no original
        _row("RET-F", "S-5", "1", "1", amount="1e400", payment_method="cash"),  # 3
    ]
    run, outcome = _import(uow, write_table(tmp_path / "e.csv", rows))
    assert run.rows_bad == 2
    errors = errors_by_line(outcome)
    assert errors[2] == [("original_receipt_no", "Field required")]
    assert [column for column, _reason in errors[3]] == ["amount"]
