"""A NUL character in any cell of any import is a bad row, reported with its line and
column, and the good rows load: no database text column takes NUL (PostgreSQL refused the
whole batch: a 500 for receipts, the whole file for members and products)."""

from __future__ import annotations

from typing import Any

import pytest

from regulars.core.uow import UnitOfWork
from tests.factories.world import World, build_world, receipt_payload

AT = "2026-11-20T10:15:00+08:00"


@pytest.fixture
def world(uow: UnitOfWork) -> World:
    return build_world(uow)


def _upload(client: Any, world: World, kind: str, text: str) -> dict[str, Any]:
    answer = client.post(
        f"/api/v1/imports/{kind}",
        files={"file": (f"{kind}.csv", text.encode(), "text/csv")},
        headers=world.staff(),
    )
    assert answer.status_code == 201, answer.text
    return dict(answer.json())


def _errors(body: dict[str, Any]) -> dict[int, tuple[str, str]]:
    return {e["line"]: (e["column"], e["reason"]) for e in body["errors"]}


def test_members_and_products(client: Any, world: World) -> None:
    members = _upload(client, world, "members", "card_no,name\nNUL00001,A\x00B\nNUL00002,Li\n")
    assert (members["rows_loaded"], members["rows_bad"]) == (1, 1)
    assert _errors(members)[2] == ("name", "contains a NUL character")
    products = _upload(
        client, world, "products", "sku,name_en,brand\nNUL-1,Tea,A\x00\nNUL-2,Rice,B\n"
    )
    assert (products["rows_loaded"], products["rows_bad"]) == (1, 1)
    assert _errors(products)[2] == ("brand", "contains a NUL character")


def test_receipts_leave_out_the_receipt_of_a_nul_line(client: Any, world: World) -> None:
    code = world.products[0].barcode
    head = "store,terminal,receipt_no,occurred_at,cashier,barcode,quantity,unit_price,amount\n"
    rows = [
        f"S001,T01,N-1,{AT},c\x0001,{code},1,1.00,1.00",  # 2
        f"S001,T01,N-1,{AT},c01,{code},2,1.00,2.00",  # 3: its receipt has a bad line
        f"S001,T01,N-2,{AT},c01,{code},1,1.00,1.00",  # 4
    ]
    body = _upload(client, world, "receipts", head + "\n".join(rows) + "\n")
    assert (body["rows_loaded"], body["rows_bad"]) == (1, 2)
    errors = _errors(body)
    assert errors[2] == ("cashier", "contains a NUL character") and errors[3][0] == "receipt_no"


def test_returns(client: Any, world: World) -> None:
    sale = client.post("/api/v1/receipts", json=receipt_payload(world, "N-S"), headers=world.till())
    assert sale.status_code == 201
    head = "store,terminal,receipt_no,occurred_at,original_receipt_no,line_no,quantity,reason\n"
    rows = [f"S001,T01,N-R1,{AT},N-S,1,1,broken\x00", f"S001,T01,N-R2,{AT},N-S,2,1,"]
    body = _upload(client, world, "returns", head + "\n".join(rows) + "\n")
    assert (body["rows_loaded"], body["rows_bad"]) == (1, 1)
    assert _errors(body)[2] == ("reason", "contains a NUL character")
