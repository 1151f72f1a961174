"""Hostile input on every staff page: stored or escaped, never executed, never a 500.

Each payload goes into every search box, filter and form field of the staff pages. The
answer may refuse it (4xx) or store it, but must never fail (5xx) and must never echo
markup unescaped. Every state-changing form must refuse a missing or wrong CSRF token.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any
from urllib.parse import quote

import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from starlette.routing import BaseRoute

from regulars.catalog.schemas import PRODUCT_TEXT_FIELDS
from regulars.core.uow import UnitOfWork
from tests.factories.web import PASSWORD, csrf_of, login, make_staff
from tests.factories.world import World, build_world

SCRIPT = "<script>alert(1)</script>"
IMG = '<img src=x onerror="alert(1)">'
PAYLOADS = [
    "' OR 1=1 --",
    '"; DROP TABLE member; --',
    SCRIPT,
    IMG,
    "{{7*7}}",
    "{% raw %}{{ config }}",
    "{0.__class__}",
    "x" * 5000,
    "nul\x00byte",
    "😀🛒 家庭装",
    "\u202eRTL\u202c \u200f",
    "%_%",
    "../../etc/passwd",
]
# Raw markup that must never come back as markup.
UNESCAPED = (SCRIPT, IMG, "<img src=x")

# Form POST routes that are not behind the staff CSRF token: the login form (no session yet)
# and the member self-service pages (their own scheme, tested with them).
NO_STAFF_CSRF = ("/login", "/m")


@pytest.fixture
def world(uow: UnitOfWork) -> World:
    """A store with one till, a few products and one member."""
    return build_world(uow, products=3, members=1, store_code="H001")


@pytest.fixture
def admin(client: TestClient, uow: UnitOfWork) -> str:
    """An administrator logged in through the form; the page's CSRF token."""
    make_staff(uow, "hostile_admin", "admin")
    return login(client, "hostile_admin")


def _check(answer: Any, what: str) -> None:
    assert answer.status_code < 500, f"{what}: {answer.status_code}\n{answer.text[:800]}"
    for raw in UNESCAPED:
        assert raw not in answer.text, f"{what}: unescaped {raw!r} in the answer"


def test_search_boxes_and_filters(client: TestClient, world: World, admin: str) -> None:
    searches = {
        "/members": ("q",),
        "/products": ("q", "department", "tag", "review", "page"),
        "/receipts": ("receipt_no", "store", "terminal"),
        "/audit": ("member_id", "actor", "action", "since"),
        "/login": ("next", "lang"),
    }
    for path, names in searches.items():
        for name in names:
            for payload in PAYLOADS:
                answer = client.get(path, params={name: payload})
                _check(answer, f"GET {path}?{name}={payload[:30]!r}")


def test_member_forms(client: TestClient, world: World, admin: str) -> None:
    member_id = world.members[0].id
    for payload in PAYLOADS:
        for field in ("mobile", "card_no", "name"):
            data = {"mobile": "13900000000", "name": "x", field: payload, "csrf_token": admin}
            answer = client.post("/members", data=data, follow_redirects=True)
            _check(answer, f"POST /members {field}={payload[:30]!r}")
        for field in (
            "name",
            "gender",
            "birthday",
            "mobile",
            "card_no",
            "address",
            "community",
            "occupation",
            "hobbies",
            "preferences",
            "delivery_needs",
            "household_size",
            "children_birth_years",
            "pets",
        ):
            answer = client.post(
                f"/members/{member_id}/edit",
                data={field: payload, "csrf_token": admin},
                follow_redirects=True,
            )
            _check(answer, f"POST edit {field}={payload[:30]!r}")
        for field in ("purpose", "channel", "granted"):
            data = {"purpose": "marketing", "channel": "sms", "granted": "true"}
            answer = client.post(
                f"/members/{member_id}/consents",
                data={**data, field: payload, "csrf_token": admin},
                follow_redirects=True,
            )
            _check(answer, f"POST consents {field}={payload[:30]!r}")
        answer = client.post(
            f"/members/{member_id}/erase", data={"confirm": payload, "csrf_token": admin}
        )
        _check(answer, f"POST erase confirm={payload[:30]!r}")


def test_stored_markup_is_shown_as_text(client: TestClient, world: World, admin: str) -> None:
    member_id = world.members[0].id
    answer = client.post(
        f"/members/{member_id}/edit",
        data={"name": SCRIPT, "address": IMG, "hobbies": "{{7*7}}", "csrf_token": admin},
        follow_redirects=True,
    )
    _check(answer, "stored markup")
    assert answer.status_code == 200
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in answer.text
    assert "&lt;img src=x onerror=" in answer.text
    assert "{{7*7}}" in answer.text  # shown as typed, never evaluated
    found = client.get("/members", params={"q": "<script>"})
    _check(found, "search for stored markup")
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in found.text


def test_product_forms(client: TestClient, world: World, admin: str) -> None:
    product_id = world.products[0].id
    fields = (*PRODUCT_TEXT_FIELDS, "active")
    for n, payload in enumerate(PAYLOADS):
        for field in fields:
            data = {"sku": f"HOSTILE-{n}-{field}", "name_en": "x", field: payload}
            answer = client.post(
                "/products/new", data={**data, "csrf_token": admin}, follow_redirects=True
            )
            _check(answer, f"POST /products/new {field}={payload[:30]!r}")
            if field in ("sku", "manufacturer_code"):
                continue  # not fields of the product's own form
            answer = client.post(
                f"/products/{product_id}",
                data={field: payload, "csrf_token": admin},
                follow_redirects=True,
            )
            _check(answer, f"POST /products/{product_id} {field}={payload[:30]!r}")
        answer = client.get(f"/products/{quote(payload, safe='')}")
        _check(answer, f"GET /products/{payload[:30]!r}")
    shown = client.get("/products", params={"q": "HOSTILE-"})
    _check(shown, "products stored with hostile values")


def test_staff_store_and_account_forms(client: TestClient, world: World, admin: str) -> None:
    code = world.store.code
    terminal = world.terminal.code
    for payload in PAYLOADS:
        for field in ("username", "display_name", "role", "store_ids", "locale"):
            data = {"username": "newbie", "display_name": "N", "role": "cashier"}
            answer = client.post("/staff", data={**data, field: payload, "csrf_token": admin})
            _check(answer, f"POST /staff {field}={payload[:30]!r}")
        answer = client.post("/staff/1/active", data={"active": payload, "csrf_token": admin})
        _check(answer, f"POST /staff/active active={payload[:30]!r}")
        for field in ("code", "name", "city"):
            data = {"code": "H999", "name": "Store", "city": "上海"}
            answer = client.post("/stores", data={**data, field: payload, "csrf_token": admin})
            _check(answer, f"POST /stores {field}={payload[:30]!r}")
        answer = client.post(
            f"/stores/{code}/terminals", data={"code": payload, "csrf_token": admin}
        )
        _check(answer, f"POST terminals code={payload[:30]!r}")
        segment = quote(payload, safe="")
        for action in ("key", "revoke"):
            answer = client.post(
                f"/stores/{segment}/terminals/{terminal}/{action}", data={"csrf_token": admin}
            )
            _check(answer, f"POST terminals/{action} store={payload[:30]!r}")
            answer = client.post(
                f"/stores/{code}/terminals/{segment}/{action}", data={"csrf_token": admin}
            )
            _check(answer, f"POST terminals/{action} terminal={payload[:30]!r}")
        for field in ("lang", "back"):
            data = {"lang": "en", "back": "/"}
            answer = client.post("/lang", data={**data, field: payload, "csrf_token": admin})
            _check(answer, f"POST /lang {field}={payload[:30]!r}")


def test_password_form(client: TestClient, uow: UnitOfWork) -> None:
    make_staff(uow, "hostile_pw", "analyst")
    token = login(client, "hostile_pw")
    for payload in PAYLOADS:
        # A wrong current password: nothing changes, whatever the new one is.
        data = {"current_password": payload, "new_password": payload, "csrf_token": token}
        answer = client.post("/account/password", data=data)
        _check(answer, f"POST /account/password {payload[:30]!r}")


def test_login_form(client: TestClient, uow: UnitOfWork) -> None:
    make_staff(uow, "hostile_login", "analyst")
    for payload in PAYLOADS:
        # Every field at once: each attempt costs a deliberately slow password hash.
        data = {"username": payload, "password": payload, "next": payload}
        answer = client.post("/login", data=data)
        _check(answer, f"POST /login {payload[:30]!r}")
    # The hostile attempts above named other accounts: this one still logs in.
    answer = client.post(
        "/login",
        data={"username": "hostile_login", "password": PASSWORD, "next": SCRIPT},
        follow_redirects=False,
    )
    assert answer.status_code == 303
    assert answer.headers["location"] == "/"


def _routes(routes: Iterable[BaseRoute]) -> Iterator[BaseRoute]:
    """Every route of the app, also those inside included routers.

    FastAPI ≥ 0.165 keeps an included router as one entry holding the original router;
    ours are included without an extra prefix, so the inner paths are the real ones.
    """
    for route in routes:
        inner = getattr(route, "original_router", None)
        if inner is not None:
            yield from _routes(inner.routes)
        else:
            yield route


def _post_form_routes(app: FastAPI) -> list[str]:
    """Every page route (not the API) that changes state through a POST."""
    paths = []
    for route in _routes(app.routes):
        if not isinstance(route, APIRoute) or "POST" not in route.methods:
            continue
        if route.path.startswith("/api/"):
            continue
        if any(route.path == p or route.path.startswith(p + "/") for p in NO_STAFF_CSRF):
            continue
        paths.append(route.path)
    return paths


def test_every_post_form_refuses_a_missing_or_wrong_csrf_token(
    client: TestClient, app: FastAPI, world: World, admin: str
) -> None:
    values = {
        "member_id": str(world.members[0].id),
        "staff_id": "1",
        "store_code": world.store.code,
        "terminal_code": world.terminal.code,
    }
    routes = _post_form_routes(app)
    assert {"/members", "/staff", "/stores", "/lang", "/logout"} <= set(routes)
    for path in routes:
        url = path.format(**{name: values.get(name, "1") for name in _names(path)})
        for data in ({}, {"csrf_token": "wrong"}, {"csrf_token": admin + "x"}):
            answer = client.post(url, data=data, follow_redirects=False)
            assert answer.status_code == 403, f"{url} with {data}: {answer.status_code}"
        # The token in a header is checked the same way (HTMX sends it there).
        answer = client.post(url, headers={"X-CSRF-Token": "wrong"}, follow_redirects=False)
        assert answer.status_code == 403, f"{url} with a wrong header: {answer.status_code}"
    # Still logged in: the refusals ended nothing.
    assert csrf_of(client.get("/").text) == admin


def _names(path: str) -> list[str]:
    """The names of a route path's parameters."""
    return [part[1:-1] for part in path.split("/") if part.startswith("{")]


def test_nul_is_refused_alike_on_every_database(
    client: TestClient, world: World, admin: str
) -> None:
    # SQLite would store a NUL and PostgreSQL would refuse it: both answer 422 before a route.
    answer = client.get("/members", params={"q": "张\x00三"})
    assert answer.status_code == 422
    assert answer.headers["content-type"].startswith("text/html")
    assert "q: NUL characters are not allowed" in answer.text
    answer = client.post(
        "/members", data={"mobile": "13900000009", "name": "a\x00b", "csrf_token": admin}
    )
    assert answer.status_code == 422
    assert "name: NUL characters are not allowed" in answer.text
    assert "Nothing found." in client.get("/members", params={"q": "13900000009"}).text
    answer = client.get("/api/v1/members", params={"q": "\x00"}, headers=world.staff())
    assert answer.status_code == 422
    assert answer.json()["error"]["field"] == "q"
    # A percent sign that only looks like one is fine.
    assert client.get("/members", params={"q": "%00"}).status_code == 200
