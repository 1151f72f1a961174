"""The staff API of coupons: rewards catalogue, compensation with a reason, exchange, void."""

from __future__ import annotations

from decimal import Decimal

from fastapi.testclient import TestClient
from sqlalchemy import select

from regulars.core.uow import UnitOfWork
from regulars.loyalty import queries, service
from regulars.staff.models import AuditEvent
from tests.factories.loyalty import configure
from tests.factories.world import World


def test_rewards_catalogue(client: TestClient, world: World) -> None:
    made = client.post(
        "/api/v1/loyalty/rewards",
        json={
            "code": "P10",
            "name": "九折券",
            "kind": "percent",
            "points": 800,
            "value": "10",
            "max_discount": "20",
            "valid_days": 14,
        },
        headers=world.staff("marketing"),
    )
    assert made.status_code == 201, made.text
    reward = made.json()
    assert (reward["kind"], Decimal(reward["max_discount"]), reward["stock"]) == (
        "percent",
        20,
        None,
    )
    twice = client.post(
        "/api/v1/loyalty/rewards",
        json={"code": "P10", "name": "x", "kind": "gift", "points": 1},
        headers=world.staff(),
    )
    assert twice.status_code == 409 and twice.json()["error"]["field"] == "code"
    bad = client.post(
        "/api/v1/loyalty/rewards",
        json={"code": "BAD", "name": "x", "kind": "percent", "points": 1, "value": "150"},
        headers=world.staff(),
    )
    assert bad.status_code == 422 and bad.json()["error"]["field"] == "value"
    retired = client.patch(
        f"/api/v1/loyalty/rewards/{reward['id']}", json={"active": False}, headers=world.staff()
    )
    assert retired.status_code == 200 and retired.json()["active"] is False
    listed = client.get("/api/v1/loyalty/rewards", headers=world.staff("cashier")).json()
    assert [r["code"] for r in listed] == ["P10"]
    missing = client.patch("/api/v1/loyalty/rewards/999999", json={}, headers=world.staff())
    assert missing.status_code == 404


def test_compensation_exchange_and_void_through_the_api(
    client: TestClient, world: World, uow: UnitOfWork
) -> None:
    member = world.members[0].id
    configure(uow, pending_days=0)
    service.points_adjust(uow, member_id=member, points=500, kind="adjust", reason="r", actor="t")
    uow.commit()
    url = f"/api/v1/members/{member}/coupons"
    no_reason = client.post(
        url,
        json={"kind": "amount", "value": "5", "reason": " "},
        headers=world.staff("service_desk"),
    )
    assert no_reason.status_code == 422 and no_reason.json()["error"]["field"] == "reason"
    issued = client.post(
        url,
        json={"kind": "amount", "value": "5", "min_spend": "30", "reason": "late delivery"},
        headers=world.staff("service_desk"),
    )
    assert issued.status_code == 201, issued.text
    coupon = issued.json()
    assert (coupon["source"], coupon["reason"], coupon["status"]) == (
        "compensation",
        "late delivery",
        "issued",
    )
    assert len(coupon["code"]) == 16
    actions = set(
        uow.session.scalars(select(AuditEvent.action).where(AuditEvent.member_id == member))
    )
    assert "coupon_compensate" in actions

    client.post(
        "/api/v1/loyalty/rewards",
        json={"code": "GIFT", "name": "环保袋", "kind": "gift", "points": 200},
        headers=world.staff(),
    )
    bought = client.post(
        f"{url}/exchange", json={"reward_code": "GIFT"}, headers=world.staff("service_desk")
    )
    assert bought.status_code == 201, bought.text
    assert bought.json()["title"] == "环保袋" and bought.json()["points_line_id"]
    assert queries.points_summary(uow, member_id=member).available == 300
    unnamed = client.post(f"{url}/exchange", json={}, headers=world.staff())
    assert unnamed.status_code == 422

    voided = client.post(
        f"/api/v1/coupons/{bought.json()['id']}/void",
        json={"reason": "member changed their mind"},
        headers=world.staff("service_desk"),
    )
    assert voided.status_code == 200 and voided.json()["status"] == "void"
    assert queries.points_summary(uow, member_id=member).available == 500
    again = client.post(
        f"/api/v1/coupons/{bought.json()['id']}/void", json={"reason": "x"}, headers=world.staff()
    )
    assert again.status_code == 422

    listed = client.get(url, headers=world.staff("cashier")).json()
    assert [c["status"] for c in listed] == ["void", "issued"]
    found = client.get(
        "/api/v1/coupons", params={"code": coupon["code"].lower()}, headers=world.staff()
    ).json()
    assert [c["id"] for c in found] == [coupon["id"]]
    by_state = client.get("/api/v1/coupons", params={"status": "void"}, headers=world.staff())
    assert [c["id"] for c in by_state.json()] == [bought.json()["id"]]
