"""Staff login, lockout, tokens, and which role may call which route."""

from __future__ import annotations

import pytest

from regulars.staff import service
from regulars.staff.schemas import StaffCreate
from tests.factories.world import World, build_world


@pytest.fixture
def world(uow) -> World:
    return build_world(uow, products=1, members=1)


def test_login_gives_a_token(client, uow) -> None:
    service.staff_create(
        uow,
        data=StaffCreate(
            username="amy", display_name="Amy", role="marketing", password="correct-horse-1"
        ),
    )
    uow.commit()
    answer = client.post(
        "/api/v1/staff/login", json={"username": "amy", "password": "correct-horse-1"}
    )
    assert answer.status_code == 200
    token = answer.json()["access_token"]
    me = client.get("/api/v1/staff/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 200 and me.json()["role"] == "marketing"
    assert "password_hash" not in me.text and "argon2" not in me.text


def test_lockout_after_repeated_failures(client, uow) -> None:
    service.staff_create(
        uow,
        data=StaffCreate(
            username="bob", display_name="Bob", role="cashier", password="correct-horse-2"
        ),
    )
    uow.commit()
    for _ in range(5):
        wrong = client.post(
            "/api/v1/staff/login", json={"username": "bob", "password": "wrong-password"}
        )
        assert wrong.status_code == 401
    locked = client.post(
        "/api/v1/staff/login", json={"username": "bob", "password": "correct-horse-2"}
    )
    assert locked.status_code == 401
    assert "locked" in locked.json()["error"]["message"]


def test_first_admin_gets_a_one_time_password(uow) -> None:
    password = service.staff_ensure_admin(uow)
    assert password and len(password) >= 12
    assert service.staff_ensure_admin(uow) is None
    account = service.staff_authenticate(uow, username="admin", password=password)
    assert account.must_change_password


def test_bad_token_is_401(client) -> None:
    assert (
        client.get("/api/v1/members", headers={"Authorization": "Bearer rgs_nope"}).status_code
        == 401
    )
    assert client.get("/api/v1/members").status_code == 401


# (method, path, body, roles allowed)
MATRIX = [
    (
        "GET",
        "/api/v1/members",
        None,
        {"admin", "marketing", "service_desk", "store_manager", "cashier"},
    ),
    (
        "POST",
        "/api/v1/members",
        {"card_no": "MATRIX01"},
        {"admin", "service_desk", "cashier", "marketing"},
    ),
    (
        "POST",
        "/api/v1/members/merge",
        {"survivor_id": 1, "merged_id": 1},
        {"admin", "service_desk"},
    ),
    (
        "GET",
        "/api/v1/products",
        None,
        {"admin", "marketing", "service_desk", "store_manager", "cashier", "analyst"},
    ),
    ("POST", "/api/v1/products", {"sku": "MATRIX"}, {"admin", "marketing"}),
    ("POST", "/api/v1/stores", {"code": "MX", "name": "m"}, {"admin"}),
    ("GET", "/api/v1/stores/S001/terminals", None, {"admin", "store_manager"}),
    ("GET", "/api/v1/staff", None, {"admin"}),
]
ROLES = ("admin", "marketing", "service_desk", "store_manager", "cashier", "analyst")


@pytest.mark.parametrize(("method", "path", "body", "allowed"), MATRIX)
def test_role_matrix(client, world, method, path, body, allowed) -> None:
    for role in ROLES:
        answer = client.request(method, path, json=body, headers=world.staff(role))
        if role in allowed:
            assert answer.status_code != 403, (role, path, answer.text)
        else:
            assert answer.status_code == 403, (role, path, answer.status_code)
