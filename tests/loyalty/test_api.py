"""The staff API of loyalty: programme, tiers, multipliers, a member's points."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import select

from regulars.core.uow import UnitOfWork
from regulars.staff.models import AuditEvent
from tests.factories.loyalty import buy, configure
from tests.factories.world import World


def test_programme_read_and_change(client: TestClient, world: World) -> None:
    got = client.get("/api/v1/loyalty/programme", headers=world.staff("cashier"))
    assert got.status_code == 200 and got.json()["debt_policy"] == "claw_back"
    denied = client.put(
        "/api/v1/loyalty/programme", json={"pending_days": 0}, headers=world.staff("cashier")
    )
    assert denied.status_code == 403
    changed = client.put(
        "/api/v1/loyalty/programme",
        json={"pending_days": 0, "member_days": {"2": "2"}, "debt_policy": "debt"},
        headers=world.staff("marketing"),
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["member_days"] == {"2": "2"}
    named = client.put(
        "/api/v1/loyalty/programme", json={"member_days": {"sat": "3"}}, headers=world.staff()
    )
    assert named.json()["member_days"] == {"5": "3"}
    bad = client.put(
        "/api/v1/loyalty/programme", json={"debt_policy": "forgive"}, headers=world.staff()
    )
    assert bad.status_code == 422


def test_tiers_and_multipliers(client: TestClient, world: World) -> None:
    tiers = client.get("/api/v1/loyalty/tiers", headers=world.staff("marketing")).json()
    assert [t["code"] for t in tiers] == ["standard", "silver", "gold", "platinum"]
    new = [
        {"code": "standard", "name": "普通", "threshold": "0", "multiplier": "1"},
        {"code": "gold", "name": "金卡", "threshold": "5000", "multiplier": "1.5"},
    ]
    put = client.put("/api/v1/loyalty/tiers", json=new, headers=world.staff("marketing"))
    assert put.status_code == 200 and len(put.json()) == 2
    no_floor = [{"code": "gold", "name": "金卡", "threshold": "5000", "multiplier": "1.5"}]
    refused = client.put("/api/v1/loyalty/tiers", json=no_floor, headers=world.staff())
    assert refused.status_code == 422 and refused.json()["error"]["field"] == "tiers"
    rules = [{"target": "tag", "value": "baby", "multiplier": "2"}]
    put = client.put("/api/v1/loyalty/multipliers", json=rules, headers=world.staff())
    assert put.status_code == 200 and put.json()[0]["target"] == "tag"
    assert client.get("/api/v1/loyalty/multipliers", headers=world.staff()).json() == put.json()


def test_member_points_history_and_adjustments(
    client: TestClient, world: World, uow: UnitOfWork
) -> None:
    m = world.members[0].id
    configure(uow, pending_days=0)
    buy(uow, m, "100")
    uow.commit()
    url = f"/api/v1/members/{m}/points"
    no_reason = client.post(
        f"{url}/adjustments", json={"points": 10, "reason": ""}, headers=world.staff()
    )
    assert no_reason.status_code == 422
    denied = client.post(
        f"{url}/adjustments",
        json={"points": 10, "reason": "late delivery"},
        headers=world.staff("marketing"),
    )
    assert denied.status_code == 403
    made = client.post(
        f"{url}/adjustments",
        json={"points": 50, "kind": "compensate", "reason": "late delivery"},
        headers=world.staff("service_desk"),
    )
    assert made.status_code == 201, made.text
    too_much = client.post(
        f"{url}/adjustments",
        json={"points": -1000, "reason": "correction"},
        headers=world.staff("service_desk"),
    )
    assert too_much.status_code == 422 and too_much.json()["error"]["field"] == "points"
    summary = client.get(url, headers=world.staff("cashier")).json()
    assert summary["balance"] == 150 and summary["tier"] == "standard"
    assert summary["next_tier"] == "silver"
    history = client.get(f"{url}/history", headers=world.staff("cashier")).json()
    assert [h["kind"] for h in history] == ["compensate", "earn"]
    assert history[0]["reason"] == "late delivery"
    audit = uow.session.scalars(
        select(AuditEvent).where(AuditEvent.action == "loyalty_compensate")
    ).all()
    assert len(audit) == 1 and audit[0].member_id == m
    assert client.get("/api/v1/members/999999/points", headers=world.staff()).status_code == 404
