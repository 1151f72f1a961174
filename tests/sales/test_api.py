"""The till API through the app: identify, receipts, returns, replays and bad input."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import func, select

from regulars.catalog.models import Product
from regulars.members.rules import member_code
from regulars.sales.models import Receipt, ReceiptLine
from tests.factories.world import World, build_world, ean13, receipt_payload


@pytest.fixture
def world(uow) -> World:
    return build_world(uow)


def _count(uow, model) -> int:
    return int(uow.session.scalar(select(func.count()).select_from(model)) or 0)


def test_identify_by_mobile_card_and_code(client, world) -> None:
    member = world.members[0]
    for body in (
        {"mobile": "13912340001"},
        {"card_no": member.card_no},
        {"member_code": member_code(member.id)},
    ):
        answer = client.post("/api/v1/till/identify", json=body, headers=world.till())
        assert answer.status_code == 200, answer.text
        assert answer.json()["id"] == member.id
        assert answer.json()["mobile_masked"] == "139****0001"
    missing = client.post(
        "/api/v1/till/identify", json={"card_no": "NOSUCH00"}, headers=world.till()
    )
    assert missing.status_code == 404
    assert missing.json()["error"]["field"] == "card_no"


def test_till_key_is_required_and_checked(client, world) -> None:
    payload = receipt_payload(world, "K-1")
    assert client.post("/api/v1/receipts", json=payload).status_code == 401
    assert (
        client.post(
            "/api/v1/receipts", json=payload, headers={"X-Api-Key": "rgt_nope_nope"}
        ).status_code
        == 401
    )
    # A staff token is not a till key.
    assert client.post("/api/v1/receipts", json=payload, headers=world.staff()).status_code == 401


def test_revoked_key_stops_working(client, world) -> None:
    assert (
        client.delete("/api/v1/stores/S001/terminals/T01/key", headers=world.staff()).status_code
        == 200
    )
    answer = client.post(
        "/api/v1/receipts", json=receipt_payload(world, "REV-1"), headers=world.till()
    )
    assert answer.status_code == 401


def test_receipt_recorded_once_and_replay_returns_first_answer(client, world, uow) -> None:
    payload = receipt_payload(world, "R-100")
    first = client.post("/api/v1/receipts", json=payload, headers=world.till())
    assert first.status_code == 201, first.text
    body = first.json()
    assert body["member_id"] == world.members[0].id
    assert Decimal(body["total"]) == Decimal(str(payload["total"]))
    replay = client.post("/api/v1/receipts", json=payload, headers=world.till())
    assert replay.status_code == 200
    assert replay.headers["Idempotent-Replay"] == "true"
    assert replay.json() == body
    assert _count(uow, Receipt) == 1
    assert _count(uow, ReceiptLine) == 2


def test_same_key_other_content_is_409(client, world, uow) -> None:
    payload = receipt_payload(world, "R-200")
    assert client.post("/api/v1/receipts", json=payload, headers=world.till()).status_code == 201
    changed = receipt_payload(world, "R-200", lines=1)
    conflict = client.post("/api/v1/receipts", json=changed, headers=world.till())
    assert conflict.status_code == 409
    assert conflict.json()["error"]["field"] == "receipt_no"
    assert "R-200" in conflict.json()["error"]["message"]
    assert _count(uow, Receipt) == 1


def test_anonymous_sale_replayed_once_and_other_content_is_409(client, world, uow) -> None:
    payload = receipt_payload(world, "ANON-409", member=False)
    first = client.post("/api/v1/receipts", json=payload, headers=world.till())
    assert first.status_code == 201
    again = client.post("/api/v1/receipts", json=payload, headers=world.till())
    assert again.status_code == 200 and again.json() == first.json()
    assert again.headers["Idempotent-Replay"] == "true"
    changed = receipt_payload(world, "ANON-409", member=False, lines=1)
    assert client.post("/api/v1/receipts", json=changed, headers=world.till()).status_code == 409
    assert _count(uow, Receipt) == 1


def test_conflict_message_in_chinese(client, world) -> None:
    payload = receipt_payload(world, "R-201")
    client.post("/api/v1/receipts", json=payload, headers=world.till())
    changed = receipt_payload(world, "R-201", lines=1)
    headers = {**world.till(), "Accept-Language": "zh-CN"}
    conflict = client.post("/api/v1/receipts", json=changed, headers=headers)
    assert conflict.status_code == 409
    assert "小票" in conflict.json()["error"]["message"]


def test_anonymous_receipt(client, world) -> None:
    answer = client.post(
        "/api/v1/receipts",
        json=receipt_payload(world, "ANON-1", member=False),
        headers=world.till(),
    )
    assert answer.status_code == 201
    assert answer.json()["member_id"] is None


def test_unknown_barcode_becomes_product_to_review(client, world, uow) -> None:
    payload = receipt_payload(world, "NEW-1", member=False)
    new_code = ean13(999_999)
    payload["lines"][0]["barcode"] = new_code  # type: ignore[index]
    assert client.post("/api/v1/receipts", json=payload, headers=world.till()).status_code == 201
    product = uow.session.scalars(select(Product).where(Product.barcode == new_code)).one()
    assert product.needs_review


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda p: p["lines"][0].update(barcode="6901234567890"), "lines[0].barcode"),
        (lambda p: p["lines"][0].update(amount="999.00"), "lines[0].amount"),
        (lambda p: p["lines"][0].update(barcode=None), "lines[0].barcode"),
        (lambda p: p["lines"][1].update(quantity="-1"), "lines[1].quantity"),
        (lambda p: p.update(occurred_at="yesterday"), "occurred_at"),
        (lambda p: p.update(receipt_no=""), "receipt_no"),
        (lambda p: p.update(lines=[]), "lines"),
        (lambda p: p.update(member={"card_no": "NOSUCH00"}), "member"),
        (lambda p: p.update(member={"mobile": "123"}), "member.mobile"),
        (
            lambda p: p["payments"][0].update(reference="4111 1111 1111 1111"),
            "payments[0].reference",
        ),
        (lambda p: p.update(card_number="4111111111111111"), "card_number"),
        (lambda p: p.update(total="1.00"), "total"),
        (lambda p: p.update(occurred_at="2026-11-20T10:15:00"), "occurred_at"),
    ],
)
def test_bad_fields_get_4xx_naming_the_field(client, world, uow, mutate, field) -> None:
    payload = receipt_payload(world, "BAD-1")
    mutate(payload)
    answer = client.post("/api/v1/receipts", json=payload, headers=world.till())
    assert 400 <= answer.status_code < 500, answer.text
    assert answer.json()["error"]["field"] == field
    assert _count(uow, Receipt) == 0


def test_bad_field_reasons_in_the_tills_language(client, world) -> None:
    payload = receipt_payload(world, "BAD-ZH")
    payload["occurred_at"] = "yesterday"
    payload["member"] = {"mobile": "123"}
    zh = {**world.till(), "Accept-Language": "zh-CN"}
    answer = client.post("/api/v1/receipts", json=payload, headers=zh)
    assert answer.status_code == 422
    reasons = {e["field"]: e["message"] for e in answer.json()["error"]["errors"]}
    assert reasons == {
        "occurred_at": "不是有效的日期时间",
        "member.mobile": "123 不是有效的大陆手机号",
    }
    english = client.post("/api/v1/receipts", json=payload, headers=world.till()).json()
    reasons = {e["field"]: e["message"] for e in english["error"]["errors"]}
    assert reasons["occurred_at"].startswith("Input should be a valid datetime")
    assert reasons["member.mobile"] == "123 is not a mainland mobile number"


def test_whole_receipt_checks_name_their_field_in_the_tills_language(client, world) -> None:
    """Checks over a whole receipt or line (sums, a missing barcode) name the field they are
    about and speak the till's language, like the checks of one field."""
    payload = receipt_payload(world, "BAD-SUM")
    payload["total"] = "1.00"
    payload["lines"][1]["barcode"] = None  # type: ignore[index]
    zh = {**world.till(), "Accept-Language": "zh-CN"}
    answer = client.post("/api/v1/receipts", json=payload, headers=zh)
    assert answer.status_code == 422
    reasons = {e["field"]: e["message"] for e in answer.json()["error"]["errors"]}
    assert reasons == {"lines[1].barcode": "商品行需要条码或商品编码"}
    del payload["lines"][1]  # type: ignore[attr-defined]
    answer = client.post("/api/v1/receipts", json=payload, headers=zh).json()["error"]
    assert answer["field"] == "total"
    assert answer["message"].startswith("total：总额 1.00 与各行金额之和")
    english = client.post("/api/v1/receipts", json=payload, headers=world.till()).json()["error"]
    assert english["message"].startswith("total: total 1.00 differs from the sum of the lines")


def test_not_json_is_4xx(client, world) -> None:
    answer = client.post(
        "/api/v1/receipts",
        content=b"{not json",
        headers={**world.till(), "Content-Type": "application/json"},
    )
    assert answer.status_code == 422


def _sell(client, world, receipt_no: str) -> dict[str, object]:
    payload = receipt_payload(world, receipt_no)
    assert client.post("/api/v1/receipts", json=payload, headers=world.till()).status_code == 201
    return payload


def test_return_links_negative_lines_to_the_original(client, world, uow) -> None:
    _sell(client, world, "S-1")
    ret = {
        "receipt_no": "RET-1",
        "occurred_at": "2026-11-21T09:00:00+08:00",
        "original_receipt_no": "S-1",
        "lines": [{"line_no": 1, "quantity": "1"}],
        "reason": "damaged",
    }
    answer = client.post("/api/v1/returns", json=ret, headers=world.till())
    assert answer.status_code == 201, answer.text
    body = answer.json()
    assert body["kind"] == "return"
    assert Decimal(body["total"]) < 0
    assert body["member_id"] == world.members[0].id
    line = uow.session.scalars(
        select(ReceiptLine).where(ReceiptLine.receipt_id == body["receipt_id"])
    ).one()
    original = uow.session.scalars(
        select(ReceiptLine).where(ReceiptLine.id == line.original_line_id)
    ).one()
    assert line.quantity == Decimal("-1") and original.line_no == 1
    assert line.amount == -(original.amount / 2).quantize(Decimal("0.01"))
    # A replay records nothing new.
    again = client.post("/api/v1/returns", json=ret, headers=world.till())
    assert again.status_code == 200 and again.json() == body


def test_cannot_return_more_than_bought(client, world, uow) -> None:
    _sell(client, world, "S-2")
    first = {
        "receipt_no": "RET-2",
        "occurred_at": "2026-11-21T09:00:00+08:00",
        "original_receipt_no": "S-2",
        "lines": [{"line_no": 2, "quantity": "1.5"}],
    }
    assert client.post("/api/v1/returns", json=first, headers=world.till()).status_code == 201
    second = {**first, "receipt_no": "RET-3", "lines": [{"line_no": 2, "quantity": "0.6"}]}
    refused = client.post("/api/v1/returns", json=second, headers=world.till())
    assert refused.status_code == 422
    assert refused.json()["error"]["field"] == "lines[0].quantity"
    exact = {**first, "receipt_no": "RET-4", "lines": [{"line_no": 2, "quantity": "0.5"}]}
    assert client.post("/api/v1/returns", json=exact, headers=world.till()).status_code == 201


def test_return_of_unknown_receipt_or_line(client, world) -> None:
    _sell(client, world, "S-3")
    base = {
        "receipt_no": "RET-5",
        "occurred_at": "2026-11-21T09:00:00+08:00",
        "lines": [{"line_no": 1, "quantity": "1"}],
    }
    missing = client.post(
        "/api/v1/returns", json={**base, "original_receipt_no": "NOPE"}, headers=world.till()
    )
    assert missing.status_code == 422 and missing.json()["error"]["field"] == "original_receipt_no"
    no_line = {**base, "original_receipt_no": "S-3", "lines": [{"line_no": 9, "quantity": "1"}]}
    answer = client.post("/api/v1/returns", json=no_line, headers=world.till())
    assert answer.status_code == 422 and answer.json()["error"]["field"] == "lines[0].line_no"


def test_staff_reads_receipts_of_a_member(client, world) -> None:
    _sell(client, world, "S-4")
    listed = client.get(
        f"/api/v1/members/{world.members[0].id}/receipts", headers=world.staff("service_desk")
    )
    assert listed.status_code == 200 and [r["receipt_no"] for r in listed.json()] == ["S-4"]
    one = client.get(f"/api/v1/receipts/{listed.json()[0]['id']}", headers=world.staff("analyst"))
    assert one.status_code == 200 and len(one.json()["lines"]) == 2
    assert (
        client.get(
            f"/api/v1/receipts/{listed.json()[0]['id']}", headers=world.staff("cashier")
        ).status_code
        == 403
    )
