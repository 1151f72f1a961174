"""The admin's account help through the API: reset a password, unlock, set the role and
stores; bad fields are a 4xx naming the field, an unknown account 404, other roles 403."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from regulars.core.uow import UnitOfWork
from regulars.staff import audit, rules
from regulars.staff.models import StaffAccount
from tests.factories.web import PASSWORD, make_staff
from tests.factories.world import World, build_world

NON_ADMINS = ("marketing", "service_desk", "store_manager", "cashier", "analyst")


@pytest.fixture
def world(uow: UnitOfWork) -> World:
    return build_world(uow, products=1, members=1)


def _account(uow: UnitOfWork, username: str) -> StaffAccount:
    account = uow.session.scalars(
        select(StaffAccount).where(StaffAccount.username == username)
    ).one()
    uow.session.refresh(account)
    return account


def _login(client: TestClient, username: str, password: str) -> int:
    answer = client.post("/api/v1/staff/login", json={"username": username, "password": password})
    return answer.status_code


def test_reset_password(client: TestClient, uow: UnitOfWork, world: World) -> None:
    bob = make_staff(uow, "bob", "cashier")
    answer = client.post(f"/api/v1/staff/{bob.id}/password-reset", headers=world.staff())
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["username"] == "bob" and body["must_change_password"] is True
    assert "password_hash" not in body
    assert answer.headers["cache-control"] == "no-store"
    one_time = body["one_time_password"]
    assert _login(client, "bob", PASSWORD) == 401
    assert _login(client, "bob", one_time) == 200
    (event,) = audit.audit_search(uow, action="staff_password_reset")
    assert (event.actor, event.page) == ("t_admin", f"/api/v1/staff/{bob.id}/password-reset")
    assert event.detail == {"staff_id": bob.id, "username": "bob"}
    # The one-time password is not shown again: the list never carries it.
    listed = client.get("/api/v1/staff", headers=world.staff())
    assert one_time not in listed.text


def test_reset_refuses_ones_own_account(client: TestClient, uow: UnitOfWork, world: World) -> None:
    admin = _account(uow, "t_admin")
    answer = client.post(f"/api/v1/staff/{admin.id}/password-reset", headers=world.staff())
    assert answer.status_code == 422
    assert answer.json()["error"]["field"] == "staff_id"
    chinese = client.post(
        f"/api/v1/staff/{admin.id}/password-reset",
        headers={**world.staff(), "Accept-Language": "zh-CN"},
    )
    assert chinese.json()["error"]["message"] == "请在修改密码页面修改自己的密码"
    assert client.get("/api/v1/staff/me", headers=world.staff()).status_code == 200


def test_unlock_after_the_lockout(client: TestClient, uow: UnitOfWork, world: World) -> None:
    bob = make_staff(uow, "bob", "cashier")
    for _ in range(rules.MAX_FAILED_LOGINS):
        assert _login(client, "bob", "wrong-password") == 401
    assert _login(client, "bob", PASSWORD) == 401
    listed = {a["username"]: a for a in client.get("/api/v1/staff", headers=world.staff()).json()}
    assert listed["bob"]["locked_until"] is not None

    answer = client.post(f"/api/v1/staff/{bob.id}/unlock", headers=world.staff())
    assert answer.status_code == 200, answer.text
    assert answer.json()["locked_until"] is None
    assert _login(client, "bob", PASSWORD) == 200
    (event,) = audit.audit_search(uow, action="staff_unlock")
    assert event.actor == "t_admin" and event.detail["was_locked"] is True


def test_set_role_takes_effect_at_once(client: TestClient, uow: UnitOfWork, world: World) -> None:
    cashier = _account(uow, "t_cashier")
    terminals = f"/api/v1/stores/{world.store.code}/terminals"
    assert client.get(terminals, headers=world.staff("cashier")).status_code == 403
    answer = client.post(
        f"/api/v1/staff/{cashier.id}/role",
        json={"role": "store_manager", "store_ids": [world.store.id]},
        headers=world.staff(),
    )
    assert answer.status_code == 200, answer.text
    assert (answer.json()["role"], answer.json()["store_ids"]) == (
        "store_manager",
        [world.store.id],
    )
    # The same token, the new role.
    assert client.get(terminals, headers=world.staff("cashier")).status_code == 200
    (event,) = audit.audit_search(uow, action="staff_role")
    assert event.detail["before"] == {"role": "cashier", "store_ids": [world.store.id]}
    assert event.page == f"/api/v1/staff/{cashier.id}/role"


@pytest.mark.parametrize(
    ("body", "field", "status"),
    [
        ({}, "role", 422),
        ({"role": "boss"}, "role", 422),
        ({"role": None}, "role", 422),
        ({"role": "cashier", "store_ids": [999_999]}, "store_ids", 422),
        ({"role": "cashier", "store_ids": [1, 0]}, "store_ids", 422),
        ({"role": "cashier", "store_ids": [2_147_483_648]}, "store_ids", 422),
        ({"role": "cashier", "store_ids": "S001"}, "store_ids", 422),
        ({"role": "cashier", "store_ids": list(range(1, 502))}, "store_ids", 422),
        ({"role": "store_manager", "store_ids": []}, "store_ids", 422),
        ({"role": "cashier", "active": False}, "active", 422),
    ],
)
def test_bad_role_requests_name_the_field(
    client: TestClient, uow: UnitOfWork, world: World, body: object, field: str, status: int
) -> None:
    cashier = _account(uow, "t_cashier")
    answer = client.post(f"/api/v1/staff/{cashier.id}/role", json=body, headers=world.staff())
    assert answer.status_code == status, answer.text
    # A bad item is named by its place in the list: ``store_ids[0]``.
    assert answer.json()["error"]["field"].split("[")[0] == field
    assert _account(uow, "t_cashier").role == "cashier"


def test_an_admin_cannot_demote_themselves(
    client: TestClient, uow: UnitOfWork, world: World
) -> None:
    admin = _account(uow, "t_admin")
    answer = client.post(
        f"/api/v1/staff/{admin.id}/role", json={"role": "analyst"}, headers=world.staff()
    )
    assert answer.status_code == 422 and answer.json()["error"]["field"] == "role"
    # Refused as one's own, not only as the last admin's.
    assert "your own account" in answer.json()["error"]["message"]
    assert client.get("/api/v1/staff", headers=world.staff()).status_code == 200
    assert audit.audit_search(uow, action="staff_role") == []


@pytest.mark.parametrize(
    ("path", "body"),
    [("password-reset", None), ("unlock", None), ("role", {"role": "cashier"})],
)
def test_unknown_account_is_404(client: TestClient, world: World, path: str, body: object) -> None:
    answer = client.post(f"/api/v1/staff/999999/{path}", json=body, headers=world.staff())
    assert answer.status_code == 404 and answer.json()["error"]["field"] == "staff_id"
    bad_id = client.post(f"/api/v1/staff/0/{path}", json=body, headers=world.staff())
    assert bad_id.status_code == 422 and bad_id.json()["error"]["field"] == "staff_id"


@pytest.mark.parametrize("role", NON_ADMINS)
def test_only_admins_may(client: TestClient, uow: UnitOfWork, world: World, role: str) -> None:
    cashier = _account(uow, "t_cashier")
    for path, body in (
        ("password-reset", None),
        ("unlock", None),
        ("role", {"role": "admin"}),
    ):
        answer = client.post(
            f"/api/v1/staff/{cashier.id}/{path}", json=body, headers=world.staff(role)
        )
        assert answer.status_code == 403, (path, answer.text)
        assert client.post(f"/api/v1/staff/{cashier.id}/{path}", json=body).status_code == 401
    assert _account(uow, "t_cashier").role == "cashier"
    assert audit.audit_search(uow) == []
