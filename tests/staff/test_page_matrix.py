"""Which role may open which staff page: every role is refused where it must be."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from regulars.staff.models import StaffAccount
from regulars.staff.sessions import session_create
from tests.factories.world import World, build_world

ROLES = ("admin", "marketing", "service_desk", "store_manager", "cashier", "analyst")
EVERYONE = set(ROLES)
# (path, roles allowed); {member} and {product} are replaced by a real member's and
# product's id.
PAGES = [
    ("/", EVERYONE),
    ("/account/password", EVERYONE),
    ("/members?q=Member", {"admin", "marketing", "service_desk", "store_manager", "cashier"}),
    ("/members/{member}", {"admin", "marketing", "service_desk", "store_manager", "cashier"}),
    ("/members/{member}/export", {"admin", "service_desk"}),
    ("/products", EVERYONE),
    ("/products?review=1", EVERYONE),
    ("/products/new", {"admin", "marketing"}),
    ("/products/{product}", EVERYONE),
    ("/receipts", {"admin", "marketing", "service_desk", "store_manager", "analyst"}),
    (
        "/receipts?receipt_no=R-1&store=S001",
        {"admin", "marketing", "service_desk", "store_manager", "analyst"},
    ),
    ("/stores", {"admin", "store_manager"}),
    ("/staff", {"admin"}),
    ("/audit", {"admin"}),
    ("/outbox", {"admin"}),
    ("/jobs", {"admin"}),
    ("/loyalty", {"admin", "marketing"}),
    ("/loyalty/grants", {"admin", "service_desk"}),
    ("/loyalty/coupons", {"admin", "marketing", "service_desk", "store_manager", "cashier"}),
    (
        "/loyalty/coupons?code=ABCD-EFGH",
        {"admin", "marketing", "service_desk", "store_manager", "cashier"},
    ),
    ("/insights", {"admin", "marketing", "analyst", "store_manager"}),
    ("/insights/members?churn_status=at_risk", {"admin", "marketing", "analyst", "store_manager"}),
    ("/baskets", {"admin", "marketing", "analyst", "store_manager"}),
    ("/baskets/network", {"admin", "marketing", "analyst", "store_manager"}),
    ("/baskets/shelf", {"admin", "marketing", "analyst", "store_manager"}),
    ("/baskets/promotion", {"admin", "marketing", "analyst", "store_manager"}),
    ("/baskets/companions?item=1", {"admin", "marketing", "analyst", "store_manager"}),
    ("/deals", {"admin", "marketing", "analyst", "store_manager", "service_desk"}),
    ("/deals/new", {"admin", "marketing"}),
    ("/lists", {"admin", "marketing", "analyst", "store_manager", "service_desk"}),
    ("/offers/statement", {"admin", "marketing", "analyst", "store_manager", "service_desk"}),
]


@pytest.fixture
def world(uow) -> World:
    return build_world(uow, products=2, members=1)


def _as(client: TestClient, uow, world: World, role: str) -> None:
    account = uow.session.scalars(
        select(StaffAccount).where(StaffAccount.username == f"t_{role}")
    ).one()
    session_id, _row = session_create(uow, account=account)
    uow.commit()
    client.cookies.clear()
    client.cookies.set("regulars_session", session_id, domain="testserver.local")


@pytest.mark.parametrize(("path", "allowed"), PAGES, ids=[p for p, _ in PAGES])
def test_page_matrix(client, uow, world, path, allowed) -> None:
    url = path.format(member=world.members[0].id, product=world.products[0].id)
    for role in ROLES:
        _as(client, uow, world, role)
        answer = client.get(url, follow_redirects=False)
        if role in allowed:
            assert answer.status_code == 200, (role, url, answer.status_code)
        else:
            assert answer.status_code == 403, (role, url, answer.status_code)
