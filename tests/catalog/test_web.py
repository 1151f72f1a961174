"""Catalogue and store pages: search and filters, tills and keys, store managers scoped to their stores."""

from __future__ import annotations

import re

from regulars.catalog import service as catalog_service
from regulars.catalog.schemas import StoreCreate
from tests.factories.web import csrf_of, login, make_staff
from tests.factories.world import build_world


def test_products_search_and_filters(client, uow) -> None:
    build_world(uow, products=4)
    make_staff(uow, "pat", "analyst")
    login(client, "pat")
    everything = client.get("/products")
    assert everything.status_code == 200 and "SKU0004" in everything.text
    one = client.get("/products", params={"q": "商品2"})
    assert "SKU0002" in one.text and "SKU0003" not in one.text
    fresh = client.get("/products", params={"tag": "fresh"})
    assert "SKU0001" in fresh.text and "SKU0002" not in fresh.text
    none = client.get("/products", params={"department": "PETS"})
    assert "SKU0001" not in none.text


def test_store_manager_manages_only_their_store(client, uow) -> None:
    world = build_world(uow)
    other = catalog_service.store_create(uow, data=StoreCreate(code="S999", name="Other"))
    uow.commit()
    make_staff(uow, "sm", "store_manager", stores=[world.store.id])
    login(client, "sm")
    stores = client.get("/stores")
    assert "S001" in stores.text and "S999" not in stores.text
    token = csrf_of(stores.text)
    added = client.post("/stores/S001/terminals", data={"csrf_token": token, "code": "T77"})
    assert added.status_code == 201
    key = re.search(r"rgt_[0-9a-f]+_[A-Za-z0-9-]+", added.text)
    assert key
    assert (
        client.post(
            "/api/v1/till/identify",
            json={"card_no": "C0000001"},
            headers={"X-Api-Key": key.group(0)},
        ).status_code
        == 200
    )
    client.post("/stores/S001/terminals/T77/revoke", data={"csrf_token": token})
    assert (
        client.post(
            "/api/v1/till/identify",
            json={"card_no": "C0000001"},
            headers={"X-Api-Key": key.group(0)},
        ).status_code
        == 401
    )
    refused = client.post(
        f"/stores/{other.code}/terminals", data={"csrf_token": token, "code": "T1"}
    )
    assert refused.status_code == 403
    assert (
        client.post("/stores", data={"csrf_token": token, "code": "S5", "name": "x"}).status_code
        == 403
    )


def test_cashier_has_no_store_page(client, uow) -> None:
    make_staff(uow, "cash", "cashier")
    login(client, "cash")
    assert client.get("/stores").status_code == 403
