"""The till's receipt fast path: it answers the usual receipt itself, and hands everything
else to the documented route, whose answers stay the same."""

from __future__ import annotations

from decimal import Decimal

import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

from regulars.sales.api import TillReceiptFastPath
from regulars.sales.models import Receipt
from tests.factories.world import World, build_world, receipt_payload


@pytest.fixture
def world(uow) -> World:
    return build_world(uow)


def _fast_path(app: FastAPI) -> TillReceiptFastPath:
    layer = app.middleware_stack
    while layer is not None and not isinstance(layer, TillReceiptFastPath):
        layer = getattr(layer, "app", None)
    assert isinstance(layer, TillReceiptFastPath), "the fast path is not in the app's stack"
    return layer


def _receipts(uow) -> int:
    return int(uow.session.scalar(select(func.count()).select_from(Receipt)) or 0)


def test_known_till_and_good_receipt_are_answered_by_the_fast_path(app, client, world, uow):
    payload = receipt_payload(world, "FAST-1")
    # The till's first request checks its key through the route; the key is then trusted.
    first = client.post("/api/v1/receipts", json=payload, headers=world.till())
    assert first.status_code == 201, first.text
    fast = _fast_path(app)
    assert fast.answered == 0
    second = client.post(
        "/api/v1/receipts", json=receipt_payload(world, "FAST-2"), headers=world.till()
    )
    assert second.status_code == 201, second.text
    assert fast.answered == 1
    assert second.headers["content-type"] == "application/json"
    body = second.json()
    assert set(body) == set(first.json())
    assert body["receipt_no"] == "FAST-2"
    assert body["member_id"] == world.members[0].id
    assert Decimal(body["total"]) == Decimal(str(payload["total"]))
    replay = client.post(
        "/api/v1/receipts", json=receipt_payload(world, "FAST-2"), headers=world.till()
    )
    assert replay.status_code == 200
    assert replay.headers["Idempotent-Replay"] == "true"
    assert replay.json() == body
    assert fast.answered == 2
    assert _receipts(uow) == 2


def test_bad_body_goes_to_the_route_and_gets_its_answer(app, client, world, uow):
    client.post("/api/v1/receipts", json=receipt_payload(world, "OK-1"), headers=world.till())
    fast = _fast_path(app)
    before = fast.answered
    payload = receipt_payload(world, "BAD-1")
    payload["lines"][0]["barcode"] = "6901234567891"  # type: ignore[index]
    answer = client.post("/api/v1/receipts", json=payload, headers=world.till())
    assert answer.status_code == 422
    assert answer.json()["error"]["field"] == "lines[0].barcode"
    assert fast.answered == before
    assert _receipts(uow) == 1


def test_an_error_while_recording_is_the_route_s_answer(app, client, world, uow):
    payload = receipt_payload(world, "R-1")
    assert client.post("/api/v1/receipts", json=payload, headers=world.till()).status_code == 201
    fast = _fast_path(app)
    before = fast.answered
    changed = receipt_payload(world, "R-1", lines=1)
    conflict = client.post(
        "/api/v1/receipts", json=changed, headers={**world.till(), "Accept-Language": "zh-CN"}
    )
    assert conflict.status_code == 409
    assert conflict.json()["error"]["field"] == "receipt_no"
    assert "小票" in conflict.json()["error"]["message"]
    assert fast.answered == before
    assert _receipts(uow) == 1


def test_unknown_or_missing_key_is_refused_by_the_route(app, client, world):
    payload = receipt_payload(world, "K-1")
    assert client.post("/api/v1/receipts", json=payload).status_code == 401
    wrong = client.post("/api/v1/receipts", json=payload, headers={"X-Api-Key": "nope"})
    assert wrong.status_code == 401
    assert _fast_path(app).answered == 0


def test_other_requests_pass_through(app, client, world):
    assert client.get("/healthz").status_code == 200
    assert client.get("/api/v1/receipts/1", headers=world.staff()).status_code == 404
    assert _fast_path(app).answered == 0
