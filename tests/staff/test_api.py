"""Staff login, lockout, tokens, and which role may call which route."""

from __future__ import annotations

import pytest

from regulars.staff import service
from regulars.staff.audit import audit_last_logins, audit_search
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
    # Audited like a page login, so the trail and ``staff list`` show API logins too.
    (event,) = audit_search(uow, action="login")
    assert (event.actor, event.page) == ("amy", "/api/v1/staff/login")
    assert set(audit_last_logins(uow)) == {me.json()["id"]}


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


# (method, path template, body, roles allowed). Every staff API route must be listed:
# test_matrix_covers_every_staff_route checks it against the app's OpenAPI spec.
READERS = {"admin", "marketing", "service_desk", "store_manager", "cashier"}
WRITERS = {"admin", "service_desk", "cashier", "marketing"}
EVERYONE = {"admin", "marketing", "service_desk", "store_manager", "cashier", "analyst"}
SALES = {"admin", "marketing", "service_desk", "store_manager", "analyst"}
INSIGHTS = {"admin", "marketing", "analyst", "store_manager"}
OFFERS = {"admin", "marketing", "analyst", "store_manager", "service_desk"}
MATRIX = [
    # staff administration
    ("POST", "/api/v1/staff/{staff_id}/password-reset", None, {"admin"}),
    ("POST", "/api/v1/staff/{staff_id}/unlock", None, {"admin"}),
    ("POST", "/api/v1/staff/{staff_id}/role", {"role": "admin"}, {"admin"}),
    ("GET", "/api/v1/members", None, READERS),
    ("POST", "/api/v1/members", {"card_no": "MATRIX01"}, WRITERS),
    ("GET", "/api/v1/members/{member_id}", None, READERS),
    ("PATCH", "/api/v1/members/{member_id}", {"occupation": "chef"}, WRITERS),
    (
        "POST",
        "/api/v1/members/{member_id}/consents",
        {"purpose": "marketing", "channel": "sms", "granted": True},
        WRITERS,
    ),
    ("GET", "/api/v1/members/{member_id}/consents/history", None, READERS),
    ("GET", "/api/v1/members/{member_id}/merges", None, READERS),
    ("GET", "/api/v1/members/{member_id}/duplicates", None, READERS),
    (
        "POST",
        "/api/v1/members/merge",
        {"survivor_id": 1, "merged_id": 1},
        {"admin", "service_desk"},
    ),
    ("GET", "/api/v1/members/{member_id}/export", None, {"admin", "service_desk"}),
    ("POST", "/api/v1/members/{member_id}/erase", None, {"admin"}),
    ("GET", "/api/v1/members/{member_id}/receipts", None, SALES),
    ("GET", "/api/v1/receipts", None, SALES),
    ("GET", "/api/v1/receipts/{receipt_id}", None, SALES),
    ("GET", "/api/v1/products", None, EVERYONE),
    ("POST", "/api/v1/products", {"sku": "MATRIX"}, {"admin", "marketing"}),
    ("GET", "/api/v1/products/{product_id}", None, EVERYONE),
    ("PATCH", "/api/v1/products/{product_id}", {"brand": "x"}, {"admin", "marketing"}),
    ("GET", "/api/v1/stores", None, EVERYONE),
    ("POST", "/api/v1/stores", {"code": "MX", "name": "m"}, {"admin"}),
    ("GET", "/api/v1/stores/{store_code}/terminals", None, {"admin", "store_manager"}),
    ("POST", "/api/v1/stores/{store_code}/terminals", {"code": "TX"}, {"admin", "store_manager"}),
    (
        "POST",
        "/api/v1/stores/{store_code}/terminals/{terminal_code}/key",
        None,
        {"admin", "store_manager"},
    ),
    (
        "DELETE",
        "/api/v1/stores/{store_code}/terminals/{terminal_code}/key",
        None,
        {"admin", "store_manager"},
    ),
    ("POST", "/api/v1/imports/{kind}", None, {"admin"}),
    ("GET", "/api/v1/imports/{run_id}", None, {"admin"}),
    ("GET", "/api/v1/imports/{run_id}/report", None, {"admin"}),
    ("GET", "/api/v1/staff", None, {"admin"}),
    (
        "POST",
        "/api/v1/staff",
        {"username": "mx", "display_name": "m", "role": "cashier"},
        {"admin"},
    ),
    ("POST", "/api/v1/staff/{staff_id}/active", {"active": True}, {"admin"}),
    ("GET", "/api/v1/audit", None, {"admin"}),
    ("GET", "/api/v1/loyalty/programme", None, READERS),
    ("PUT", "/api/v1/loyalty/programme", {}, {"admin", "marketing"}),
    ("GET", "/api/v1/loyalty/tiers", None, READERS),
    ("PUT", "/api/v1/loyalty/tiers", [], {"admin", "marketing"}),
    ("GET", "/api/v1/loyalty/multipliers", None, READERS),
    ("PUT", "/api/v1/loyalty/multipliers", [], {"admin", "marketing"}),
    ("GET", "/api/v1/members/{member_id}/points", None, READERS),
    ("GET", "/api/v1/members/{member_id}/points/history", None, READERS),
    (
        "POST",
        "/api/v1/members/{member_id}/points/adjustments",
        {"points": 1, "reason": "matrix"},
        {"admin", "service_desk"},
    ),
    ("GET", "/api/v1/insights/runs", None, INSIGHTS),
    ("GET", "/api/v1/insights/runs/latest", None, INSIGHTS),
    ("GET", "/api/v1/insights/runs/{run_id}", None, INSIGHTS),
    ("POST", "/api/v1/insights/runs", {}, {"admin", "analyst"}),
    ("GET", "/api/v1/insights/members", None, INSIGHTS),
    ("GET", "/api/v1/members/{member_id}/insights", None, INSIGHTS),
    ("GET", "/api/v1/deals", None, OFFERS),
    ("POST", "/api/v1/deals", {}, {"admin", "marketing"}),
    ("GET", "/api/v1/deals/{deal_id}", None, OFFERS),
    ("PUT", "/api/v1/deals/{deal_id}", {}, {"admin", "marketing"}),
    ("DELETE", "/api/v1/deals/{deal_id}", None, {"admin", "marketing"}),
    ("POST", "/api/v1/deals/import", None, {"admin", "marketing"}),
    ("GET", "/api/v1/lists/settings", None, OFFERS),
    ("PUT", "/api/v1/lists/settings", {}, {"admin", "marketing"}),
    ("GET", "/api/v1/lists/cycles", None, OFFERS),
    ("GET", "/api/v1/lists/cycles/{cycle_id}/results", None, OFFERS),
    ("GET", "/api/v1/lists/{list_id}", None, OFFERS),
    ("GET", "/api/v1/members/{member_id}/lists", None, OFFERS),
    ("GET", "/api/v1/offers/statement", None, OFFERS),
    ("GET", "/api/v1/baskets/runs", None, {"admin", "marketing", "analyst", "store_manager"}),
    (
        "GET",
        "/api/v1/baskets/runs/active",
        None,
        {"admin", "marketing", "analyst", "store_manager"},
    ),
    (
        "GET",
        "/api/v1/baskets/runs/{run_id}",
        None,
        {"admin", "marketing", "analyst", "store_manager"},
    ),
    ("POST", "/api/v1/baskets/runs", {}, {"admin", "analyst", "marketing"}),
    ("GET", "/api/v1/baskets/rules", None, {"admin", "marketing", "analyst", "store_manager"}),
    ("GET", "/api/v1/baskets/rules.csv", None, {"admin", "marketing", "analyst", "store_manager"}),
    ("GET", "/api/v1/baskets/companions", None, {"admin", "marketing", "analyst", "store_manager"}),
    ("GET", "/api/v1/baskets/network", None, {"admin", "marketing", "analyst", "store_manager"}),
    ("GET", "/api/v1/baskets/shelf", None, {"admin", "marketing", "analyst", "store_manager"}),
    ("GET", "/api/v1/baskets/promotion", None, {"admin", "marketing", "analyst", "store_manager"}),
    ("GET", "/api/v1/loyalty/rewards", None, READERS),
    (
        "POST",
        "/api/v1/loyalty/rewards",
        {"code": "MATRIX", "name": "m", "kind": "gift", "points": 10},
        {"admin", "marketing"},
    ),
    ("PATCH", "/api/v1/loyalty/rewards/{reward_id}", {"active": False}, {"admin", "marketing"}),
    ("GET", "/api/v1/members/{member_id}/coupons", None, READERS),
    (
        "POST",
        "/api/v1/members/{member_id}/coupons",
        {"kind": "amount", "value": "5", "reason": "matrix"},
        {"admin", "service_desk"},
    ),
    (
        "POST",
        "/api/v1/members/{member_id}/coupons/exchange",
        {"reward_code": "MATRIX"},
        {"admin", "service_desk"},
    ),
    ("POST", "/api/v1/coupons/{coupon_id}/void", {"reason": "matrix"}, {"admin", "service_desk"}),
    ("GET", "/api/v1/coupons", None, READERS),
    ("GET", "/api/v1/outbox", None, {"admin"}),
    ("POST", "/api/v1/outbox/send", None, {"admin"}),
    ("GET", "/api/v1/jobs", None, {"admin"}),
    ("GET", "/api/v1/jobs/runs", None, {"admin"}),
    ("POST", "/api/v1/jobs/{name}/run", None, {"admin"}),
    # lists and deals
    ("GET", "/api/v1/lists/{list_id}/pdf", None, OFFERS),
    # scoring settings
    ("GET", "/api/v1/insights/settings", None, {"admin", "marketing", "analyst", "store_manager"}),
    ("PUT", "/api/v1/insights/settings", {"rfm_recency": [7, 30, 90, 180]}, {"admin", "analyst"}),
    # a member's messages
    ("GET", "/api/v1/members/{member_id}/messages", None, READERS),
    # points grants
    ("POST", "/api/v1/points/grants", None, {"admin", "service_desk"}),
    # import runs
    ("GET", "/api/v1/imports", None, {"admin"}),
]
# Routes any caller may use, or that authenticate tills rather than staff.
OPEN = {
    ("POST", "/api/v1/staff/login"),
    ("GET", "/api/v1/staff/me"),
    ("POST", "/api/v1/till/identify"),
    ("POST", "/api/v1/receipts"),
    ("POST", "/api/v1/returns"),
    ("POST", "/api/v1/till/suggestions"),
}


def test_matrix_covers_every_staff_route(app) -> None:
    spec = app.openapi()
    routes = {
        (m.upper(), p) for p, ops in spec["paths"].items() for m in ops if p.startswith("/api/")
    }
    listed = {(m, p) for m, p, _b, _a in MATRIX}
    assert routes - listed - OPEN == set(), "add the new routes to MATRIX with the roles allowed"


ROLES = ("admin", "marketing", "service_desk", "store_manager", "cashier", "analyst")


@pytest.mark.parametrize(
    ("method", "path", "body", "allowed"), MATRIX, ids=[f"{m} {p}" for m, p, _b, _a in MATRIX]
)
def test_role_matrix(client, world, method, path, body, allowed) -> None:
    url = path.format(
        member_id=world.members[0].id,
        product_id=world.products[0].id,
        receipt_id=1,
        store_code="S001",
        terminal_code="T01",
        kind="products",
        run_id=1,
        deal_id=1,
        cycle_id=1,
        list_id=1,
        reward_id=1,
        coupon_id=1,
        name="portal-purge",
        staff_id=1,
    )
    for role in ROLES:
        answer = client.request(method, url, json=body, headers=world.staff(role))
        if role in allowed:
            assert answer.status_code != 403, (role, path, answer.text)
        else:
            assert answer.status_code == 403, (role, path, answer.status_code)
