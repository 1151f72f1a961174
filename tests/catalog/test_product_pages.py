"""The product pages: the "to review" filter, adding a product, completing a till's
placeholder, form errors with the typed values kept, CSRF and who may write."""

from __future__ import annotations

from decimal import Decimal

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from regulars.catalog.models import Manufacturer, Product
from regulars.core.uow import UnitOfWork
from regulars.staff.models import AuditEvent
from tests.factories.web import csrf_of, login, make_staff
from tests.factories.world import World, build_world, ean13, receipt_payload


@pytest.fixture
def world(uow: UnitOfWork) -> World:
    return build_world(uow, products=3, members=1)


def _placeholder(client: TestClient, uow: UnitOfWork, world: World, n: int) -> Product:
    """A product a till created by selling a barcode the catalogue did not know."""
    payload = receipt_payload(world, f"NEW-{n}", member=False, lines=1)
    barcode = ean13(900_000 + n)
    payload["lines"][0]["barcode"] = barcode  # type: ignore[index]
    assert client.post("/api/v1/receipts", json=payload, headers=world.till()).status_code == 201
    return _product(uow, barcode=barcode)


def _product(uow: UnitOfWork, *, barcode: str | None = None, sku: str | None = None) -> Product:
    uow.session.expire_all()
    key = Product.barcode == barcode if barcode else Product.sku == sku
    return uow.session.scalars(select(Product).where(key)).one()


def _audits(uow: UnitOfWork, action: str) -> list[AuditEvent]:
    uow.session.expire_all()
    return list(uow.session.scalars(select(AuditEvent).where(AuditEvent.action == action)))


def _form(token: str, **fields: str) -> dict[str, str]:
    return {"csrf_token": token, **fields}


def test_review_filter_and_count(client: TestClient, uow: UnitOfWork, world: World) -> None:
    first = _placeholder(client, uow, world, 1)
    second = _placeholder(client, uow, world, 2)
    assert first.needs_review and first.sku == f"BC{first.barcode}"
    make_staff(uow, "ana", "analyst")
    login(client, "ana")
    everything = client.get("/products")
    assert "SKU0001" in everything.text and first.sku in everything.text
    assert "Products to review: 2" in everything.text
    assert 'href="/products?review=1"' in everything.text
    review = client.get("/products", params={"review": "1"})
    assert review.status_code == 200
    assert first.sku in review.text and second.sku in review.text
    assert "SKU0001" not in review.text
    # The filter adds to the search: a barcode finds only its own placeholder.
    one = client.get("/products", params={"review": "1", "q": second.barcode})
    assert second.sku in one.text and first.sku not in one.text
    # Analysts read the catalogue but may not change it: no links to add or edit.
    assert "/products/new" not in everything.text
    assert 'data-testid="product-edit"' not in everything.text


def test_add_a_product(client: TestClient, uow: UnitOfWork, world: World) -> None:
    make_staff(uow, "mia", "marketing")
    token = login(client, "mia")
    listing = client.get("/products")
    assert 'href="/products/new"' in listing.text and 'data-testid="product-edit"' in listing.text
    assert "Products to review" not in listing.text  # nothing to review yet
    form = client.get("/products/new")
    assert form.status_code == 200 and 'data-testid="product-form"' in form.text
    barcode = ean13(777_001)
    answer = client.post(
        "/products/new",
        data=_form(
            token,
            sku="OAT-1",
            barcode=barcode,
            name_zh="燕麦奶",
            name_en="Oat milk",
            department="DAIRY",
            category="Milk",
            subcategory="Plant milk",
            brand="Oatly",
            manufacturer_code="OATLY",
            unit_price="12.90",
            cost_price="8.10",
            package_size="1L",
            tags="vegan， fresh, ",
            active="0",
        ),
        follow_redirects=False,
    )
    assert answer.status_code == 303, answer.text[:500]
    product = _product(uow, sku="OAT-1")
    assert answer.headers["location"] == f"/products/{product.id}?saved=1"
    assert product.barcode == barcode and product.name_en == "Oat milk"
    assert product.unit_price == Decimal("12.90") and product.cost_price == Decimal("8.10")
    assert product.tags == ["vegan", "fresh"]
    assert product.active is False  # the box was left unticked (only the hidden 0 sent)
    assert not product.needs_review
    maker = uow.session.get(Manufacturer, product.manufacturer_id)
    assert maker is not None and maker.code == "OATLY"
    shown = client.get(answer.headers["location"])
    assert 'data-testid="saved"' in shown.text and 'value="Oat milk"' in shown.text
    assert 'value="vegan, fresh"' in shown.text
    (event,) = _audits(uow, "product_create")
    assert event.actor == "mia" and event.page == "/products/new"
    assert event.detail == {"product_id": product.id, "sku": "OAT-1"}


def test_complete_a_placeholder_from_a_till(
    client: TestClient, uow: UnitOfWork, world: World
) -> None:
    product = _placeholder(client, uow, world, 3)
    make_staff(uow, "adm", "admin")
    token = login(client, "adm")
    shown = client.get(f"/products/{product.id}")
    assert shown.status_code == 200
    assert 'data-testid="review-state"' in shown.text and 'data-testid="review-flag"' in shown.text
    # A price alone does not complete it: it stays to review until it has a name.
    answer = client.post(
        f"/products/{product.id}", data=_form(token, unit_price="3.50"), follow_redirects=False
    )
    assert answer.status_code == 303
    assert _product(uow, barcode=product.barcode).needs_review
    answer = client.post(
        f"/products/{product.id}",
        data=_form(token, name_zh="新口味薯片", department="SNACKS", unit_price="4.20"),
        follow_redirects=True,
    )
    assert answer.status_code == 200 and 'data-testid="saved"' in answer.text
    assert 'data-testid="review-flag"' not in answer.text
    done = _product(uow, barcode=product.barcode)
    assert not done.needs_review
    assert done.name_zh == "新口味薯片" and done.unit_price == Decimal("4.20")
    assert "Products to review" not in client.get("/products").text
    assert done.sku not in client.get("/products", params={"review": "1"}).text
    updates = _audits(uow, "product_update")
    assert [e.detail["reviewed"] for e in updates] == [False, True]
    assert updates[1].detail["fields"] == ["department", "name_zh", "unit_price"]
    assert updates[1].page == f"/products/{product.id}"


def test_empty_boxes_empty_their_fields_and_absent_ones_stay(
    client: TestClient, uow: UnitOfWork, world: World
) -> None:
    make_staff(uow, "adm", "admin")
    token = login(client, "adm")
    product = world.products[0]
    before = _product(uow, sku=product.sku)
    assert before.unit_price is not None and before.name_zh
    answer = client.post(
        f"/products/{product.id}",
        data=_form(token, unit_price="", brand="", tags=""),
        follow_redirects=False,
    )
    assert answer.status_code == 303
    after = _product(uow, sku=product.sku)
    assert after.unit_price is None and after.brand is None and after.tags == []
    assert after.name_zh == before.name_zh and after.active  # not sent: unchanged


def test_bad_price_names_the_field_and_keeps_the_values(
    client: TestClient, uow: UnitOfWork, world: World
) -> None:
    make_staff(uow, "adm", "admin")
    token = login(client, "adm")
    answer = client.post(
        "/products/new",
        data=_form(token, sku="BAD-1", name_en="Rice <b>5kg</b>", unit_price="12,5x"),
    )
    assert answer.status_code == 422
    assert 'data-testid="form-error"' in answer.text and "unit_price: " in answer.text
    assert 'value="BAD-1"' in answer.text and 'value="12,5x"' in answer.text
    assert 'value="Rice &lt;b&gt;5kg&lt;/b&gt;"' in answer.text
    assert uow.session.scalar(select(func.count()).where(Product.sku == "BAD-1")) == 0
    # On a product's page too: the typed values stay, the product does not change.
    product = world.products[1]
    price = _product(uow, sku=product.sku).unit_price
    answer = client.post(
        f"/products/{product.id}", data=_form(token, name_en="Typed", cost_price="-1")
    )
    assert answer.status_code == 422 and "cost_price: " in answer.text
    assert 'value="Typed"' in answer.text and 'value="-1"' in answer.text
    unchanged = _product(uow, sku=product.sku)
    assert unchanged.name_en != "Typed" and unchanged.unit_price == price


def test_bad_price_in_chinese(client: TestClient, uow: UnitOfWork, world: World) -> None:
    make_staff(uow, "zh", "admin", locale="zh_CN")
    token = login(client, "zh")
    answer = client.post("/products/new", data=_form(token, sku="ZH-1", unit_price="abc"))
    assert answer.status_code == 422
    assert "unit_price：不是数字" in answer.text


def test_duplicate_sku_or_barcode_is_shown_on_the_form(
    client: TestClient, uow: UnitOfWork, world: World
) -> None:
    make_staff(uow, "adm", "admin")
    token = login(client, "adm")
    taken = world.products[0]
    answer = client.post("/products/new", data=_form(token, sku=taken.sku, name_en="Again"))
    assert answer.status_code == 422
    assert f"SKU {taken.sku} already exists (sku)" in answer.text
    assert 'value="Again"' in answer.text
    answer = client.post(
        f"/products/{world.products[1].id}", data=_form(token, barcode=str(taken.barcode))
    )
    assert answer.status_code == 422
    assert f"barcode {taken.barcode} already exists (barcode)" in answer.text
    assert _audits(uow, "product_create") == [] and _audits(uow, "product_update") == []


def test_forms_require_the_csrf_token(client: TestClient, uow: UnitOfWork, world: World) -> None:
    make_staff(uow, "adm", "admin")
    token = login(client, "adm")
    product = world.products[0]
    for data in ({}, {"csrf_token": "wrong"}, {"csrf_token": token + "x"}):
        new = client.post("/products/new", data={**data, "sku": "CSRF-1"})
        assert new.status_code == 403
        edit = client.post(f"/products/{product.id}", data={**data, "name_en": "CSRF"})
        assert edit.status_code == 403
    assert uow.session.scalar(select(func.count()).where(Product.sku == "CSRF-1")) == 0
    assert _product(uow, sku=product.sku).name_en != "CSRF"


def test_cashier_reads_but_may_not_write(client: TestClient, uow: UnitOfWork, world: World) -> None:
    product = _placeholder(client, uow, world, 4)
    make_staff(uow, "cash", "cashier")
    token = login(client, "cash")
    listing = client.get("/products")
    assert "/products/new" not in listing.text and 'data-testid="product-edit"' not in listing.text
    shown = client.get(f"/products/{product.id}")
    assert shown.status_code == 200
    assert 'data-testid="product-facts"' in shown.text
    assert 'data-testid="product-form"' not in shown.text
    assert 'data-testid="review-state"' in shown.text
    assert client.get("/products/new").status_code == 403
    edit = client.post(f"/products/{product.id}", data=_form(token, name_en="Cashier"))
    assert edit.status_code == 403
    new = client.post("/products/new", data=_form(token, sku="CASH-1"))
    assert new.status_code == 403
    assert _product(uow, barcode=product.barcode).needs_review
    assert _audits(uow, "product_update") == []


def test_unknown_product_is_404(client: TestClient, uow: UnitOfWork, world: World) -> None:
    make_staff(uow, "adm", "admin")
    token = login(client, "adm")
    assert client.get("/products/999999").status_code == 404
    assert client.post("/products/999999", data=_form(token, name_en="x")).status_code == 404
    assert csrf_of(client.get("/products").text) == token


def test_a_products_manufacturer_is_set_changed_and_removed(
    client: TestClient, uow: UnitOfWork, world: World
) -> None:
    """Manufacturers' deals match products by manufacturer, so staff can correct it."""
    make_staff(uow, "adm", "admin")
    token = login(client, "adm")
    product = world.products[1]
    url = f"/products/{product.id}"
    assert client.post(url, data=_form(token, manufacturer_code="M-OAT")).status_code == 200
    maker = uow.session.scalars(select(Manufacturer).where(Manufacturer.code == "M-OAT")).one()
    assert _product(uow, sku=product.sku).manufacturer_id == maker.id
    assert 'name="manufacturer_code" value="M-OAT"' in client.get(url).text
    bad = client.post(url, data=_form(token, manufacturer_code="not a code!"))
    assert bad.status_code == 422 and "manufacturer_code" in bad.text
    assert _product(uow, sku=product.sku).manufacturer_id == maker.id
    client.post(url, data=_form(token, manufacturer_code=""))
    assert _product(uow, sku=product.sku).manufacturer_id is None
    patched = client.patch(
        f"/api/v1/products/{product.id}", json={"manufacturer_code": "M-OAT"}, headers=world.staff()
    )
    assert patched.status_code == 200 and patched.json()["manufacturer_id"] == maker.id
