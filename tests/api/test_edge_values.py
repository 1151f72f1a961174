"""Values at the edge of what a type can hold get a 4xx naming the field, never a 500.

Each case here was a 500 or a traceback found by fuzzing (times UTC cannot hold, days
whose next day does not exist, numbers no column holds); the tests fail without the fix.
"""

from __future__ import annotations

import pytest

from regulars.core.uow import UnitOfWork
from tests.factories.world import World, build_world, receipt_payload

EDGES = ("0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00")


@pytest.fixture
def world(uow: UnitOfWork) -> World:
    return build_world(uow, members=2)


@pytest.mark.parametrize("when", EDGES)
def test_a_till_receipt_or_return_at_a_time_utc_cannot_hold_is_422(client, world, when) -> None:
    payload = {**receipt_payload(world, "EDGE-1"), "occurred_at": when}
    answer = client.post("/api/v1/receipts", json=payload, headers=world.till())
    assert answer.status_code == 422, answer.text
    assert answer.json()["error"]["field"] == "occurred_at"
    sold = receipt_payload(world, "EDGE-2")
    assert client.post("/api/v1/receipts", json=sold, headers=world.till()).status_code == 201
    back = {
        "receipt_no": "EDGE-R",
        "occurred_at": when,
        "original_receipt_no": "EDGE-2",
        "lines": [{"line_no": 1, "quantity": "1"}],
    }
    answer = client.post("/api/v1/returns", json=back, headers=world.till())
    assert answer.status_code == 422, answer.text
    assert answer.json()["error"]["field"] == "occurred_at"


@pytest.mark.parametrize("when", EDGES)
def test_a_deal_valid_at_a_time_utc_cannot_hold_is_422(client, world, when) -> None:
    deal = {
        "code": "EDGE",
        "title": "Edge",
        "target": "product",
        "target_value": world.products[0].sku,
        "kind": "percent",
        "value": "10",
        "valid_from": "2026-11-01T00:00:00+08:00",
        "valid_to": "2026-12-01T00:00:00+08:00",
    }
    field = "valid_from" if when.startswith("0001") else "valid_to"
    answer = client.post(
        "/api/v1/deals", json={**deal, field: when}, headers=world.staff("marketing")
    )
    assert answer.status_code == 422, answer.text
    assert answer.json()["error"]["field"] == field


@pytest.mark.parametrize("day", ["0001-01-01", "9999-12-31"])
def test_receipts_of_the_first_or_last_day_a_calendar_has_is_422(client, world, day) -> None:
    answer = client.get(f"/api/v1/receipts?day={day}", headers=world.staff("admin"))
    assert answer.status_code == 422, answer.text
    assert answer.json()["error"]["field"] == "day"
