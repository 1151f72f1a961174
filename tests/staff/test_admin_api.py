"""The admin's staff API: disable and enable accounts, read the audit trail."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from regulars.core.errors import RuleViolation
from regulars.staff import audit, service
from regulars.staff.models import AuditEvent, StaffAccount
from regulars.staff.schemas import StaffCreate
from regulars.staff.sessions import session_create, session_find
from tests.factories.world import World, build_world

NON_ADMINS = ("marketing", "service_desk", "store_manager", "cashier", "analyst")


@pytest.fixture
def world(uow) -> World:
    return build_world(uow, products=1, members=1)


def _account(uow, username: str) -> StaffAccount:
    return uow.session.scalars(select(StaffAccount).where(StaffAccount.username == username)).one()


def test_admin_disables_and_enables_an_account(client, uow, world) -> None:
    cashier = _account(uow, "t_cashier")
    session_id, _row = session_create(uow, account=cashier)
    uow.commit()
    assert client.get("/api/v1/staff/me", headers=world.staff("cashier")).status_code == 200

    answer = client.post(
        f"/api/v1/staff/{cashier.id}/active", json={"active": False}, headers=world.staff()
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["username"] == "t_cashier" and answer.json()["active"] is False
    # The token and the browser session stop working at once.
    assert client.get("/api/v1/staff/me", headers=world.staff("cashier")).status_code == 401
    assert session_find(uow, session_id=session_id) is None

    answer = client.post(
        f"/api/v1/staff/{cashier.id}/active", json={"active": True}, headers=world.staff()
    )
    assert answer.status_code == 200 and answer.json()["active"] is True
    # Its old token was deleted with the disabling: enabled again, it logs in anew.
    assert client.get("/api/v1/staff/me", headers=world.staff("cashier")).status_code == 401
    # Audited as the staff page audits it: action, actor, detail; the route as the page.
    events = audit.audit_search(uow, action="staff_active")
    assert [(e.actor, e.detail) for e in events] == [
        ("t_admin", {"staff_id": cashier.id, "active": True}),
        ("t_admin", {"staff_id": cashier.id, "active": False}),
    ]
    assert events[0].page == f"/api/v1/staff/{cashier.id}/active"
    assert events[0].staff_id == _account(uow, "t_admin").id


def test_an_admin_cannot_disable_themselves(client, uow, world) -> None:
    admin = _account(uow, "t_admin")
    answer = client.post(
        f"/api/v1/staff/{admin.id}/active", json={"active": False}, headers=world.staff()
    )
    assert answer.status_code == 422
    error = answer.json()["error"]
    assert error["field"] == "active" and "your own account" in error["message"]
    chinese = client.post(
        f"/api/v1/staff/{admin.id}/active",
        json={"active": False},
        headers={**world.staff(), "Accept-Language": "zh-CN"},
    )
    assert chinese.json()["error"]["message"] == "不能停用自己的账号"
    assert client.get("/api/v1/staff/me", headers=world.staff()).status_code == 200
    assert audit.audit_search(uow, action="staff_active") == []
    # Enabling oneself (already active) is harmless and allowed.
    answer = client.post(
        f"/api/v1/staff/{admin.id}/active", json={"active": True}, headers=world.staff()
    )
    assert answer.status_code == 200


def test_bad_requests_to_the_active_route(client, uow, world) -> None:
    cashier = _account(uow, "t_cashier")
    url = f"/api/v1/staff/{cashier.id}/active"
    missing = client.post(url, json={}, headers=world.staff())
    assert missing.status_code == 422 and missing.json()["error"]["field"] == "active"
    extra = client.post(url, json={"active": False, "role": "admin"}, headers=world.staff())
    assert extra.status_code == 422 and extra.json()["error"]["field"] == "role"
    unknown = client.post(
        "/api/v1/staff/999999/active", json={"active": False}, headers=world.staff()
    )
    assert unknown.status_code == 404 and unknown.json()["error"]["field"] == "staff_id"
    assert _account(uow, "t_cashier").active


@pytest.mark.parametrize("role", NON_ADMINS)
def test_only_admins_may_use_the_routes(client, uow, world, role) -> None:
    cashier = _account(uow, "t_cashier")
    answer = client.post(
        f"/api/v1/staff/{cashier.id}/active", json={"active": False}, headers=world.staff(role)
    )
    assert answer.status_code == 403
    assert client.get("/api/v1/audit", headers=world.staff(role)).status_code == 403
    assert _account(uow, "t_cashier").active


def test_the_routes_need_a_token(client, world) -> None:
    assert client.post("/api/v1/staff/1/active", json={"active": False}).status_code == 401
    assert client.get("/api/v1/audit").status_code == 401


def _seed(uow) -> list[AuditEvent]:
    """Five events an hour apart, the newest an hour ago, by two actors about two members."""
    now = datetime.now(UTC)
    made = []
    for n, (actor, action, member) in enumerate(
        [
            ("amy", "profile_view", 7),
            ("cli", "member_export", 7),
            ("amy", "profile_view", 8),
            ("bob", "profile_view", 7),
            ("amy", "staff_create", None),
        ]
    ):
        event = audit.audit_record(
            uow, actor=actor, action=action, member_id=member, page="/x", detail={"n": n}
        )
        event.at = now - timedelta(hours=5 - n)
        made.append(event)
    uow.commit()
    return made


def test_audit_filters_and_pages_newest_first(client, uow, world) -> None:
    made = _seed(uow)

    def ns(**params: object) -> list[int]:
        answer = client.get("/api/v1/audit", params=params, headers=world.staff())
        assert answer.status_code == 200, answer.text
        return [e["detail"]["n"] for e in answer.json()]

    assert ns() == [4, 3, 2, 1, 0]
    assert ns(actor="amy") == [4, 2, 0]
    assert ns(actor="cli") == [1]
    assert ns(action="profile_view") == [3, 2, 0]
    assert ns(member_id=7) == [3, 1, 0]
    assert ns(actor="amy", action="profile_view", member_id=7) == [0]
    assert ns(since=made[2].at.isoformat()) == [4, 3, 2]
    assert ns(until=made[1].at.isoformat()) == [1, 0]
    # A time in the chain's zone means the same instant as in UTC.
    east = made[3].at.astimezone(timezone(timedelta(hours=8))).isoformat()
    assert ns(since=east) == [4, 3]
    assert ns(limit=2) == [4, 3]
    assert ns(limit=2, offset=2) == [2, 1]
    assert ns(limit=2, offset=4) == [0]
    assert ns(offset=5) == []
    assert ns(actor="nobody") == []

    first = client.get("/api/v1/audit", params={"limit": 1}, headers=world.staff()).json()[0]
    assert set(first) == {"id", "at", "actor", "action", "page", "member_id", "detail"}
    assert first["id"] == made[4].id and first["actor"] == "amy" and first["member_id"] is None
    assert datetime.fromisoformat(first["at"]) == made[4].at
    # Reading the trail is not itself recorded (the /audit page does not record it either).
    assert len(audit.audit_search(uow)) == 5


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"limit": 0}, "limit"),
        ({"limit": 501}, "limit"),
        ({"limit": "many"}, "limit"),
        ({"offset": -1}, "offset"),
        ({"since": "yesterday"}, "since"),
        ({"since": "2026-11-20T10:00:00"}, "since"),  # no zone: which 10 o'clock?
        ({"until": "0001-01-01T00:00:00+08:00"}, "until"),  # before UTC's year 1
        ({"member_id": 0}, "member_id"),
    ],
)
def test_bad_audit_filters_name_the_field(client, world, params, field) -> None:
    answer = client.get("/api/v1/audit", params=params, headers=world.staff())
    assert answer.status_code == 422, answer.text
    assert answer.json()["error"]["field"] == field


def test_limit_500_is_accepted(client, world) -> None:
    answer = client.get("/api/v1/audit", params={"limit": 500}, headers=world.staff())
    assert answer.status_code == 200


def test_the_last_active_admin_cannot_be_disabled(uow, world) -> None:
    """Not even from the command line (no ``by``): nobody could manage staff any more."""
    admin = _account(uow, "t_admin")
    with pytest.raises(RuleViolation) as refused:
        service.staff_set_active(uow, staff_id=admin.id, active=False)
    assert refused.value.field == "active" and "last active administrator" in str(refused.value)
    other, _password = service.staff_create(
        uow,
        data=StaffCreate(
            username="t_admin2", display_name="Admin 2", role="admin", password="a-long-pass-phrase"
        ),
    )
    assert not service.staff_set_active(uow, staff_id=admin.id, active=False).active
    with pytest.raises(RuleViolation):
        service.staff_set_active(uow, staff_id=other.id, active=False)
