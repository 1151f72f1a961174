"""Catalogue: barcode validation, products, stores and till keys through the staff API."""

from __future__ import annotations

import pytest

from regulars.catalog.rules import normalise_barcode
from regulars.core.errors import InvalidInput
from tests.factories.world import World, build_world, ean13, receipt_payload


@pytest.fixture
def world(uow) -> World:
    return build_world(uow, products=3, members=1)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("6901234567892", "6901234567892"),
        ("036000291452", "0036000291452"),
        ("96385074", "96385074"),
    ],
)
def test_valid_barcodes(raw: str, expected: str) -> None:
    assert normalise_barcode(raw) == expected


@pytest.mark.parametrize("raw", ["6901234567891", "12345", "69012345678a2", "036000291453", ""])
def test_invalid_barcodes(raw: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        normalise_barcode(raw)
    assert caught.value.field == "barcode"


def test_create_and_search_products(client, world) -> None:
    body = {
        "sku": "MILK-1L",
        "barcode": ean13(5001),
        "name_zh": "全脂牛奶 1L",
        "name_en": "Whole milk 1L",
        "department": "DAIRY",
        "category": "MILK",
        "subcategory": "WHOLE",
        "brand": "光明",
        "manufacturer_code": "BRIGHT",
        "unit_price": "12.80",
        "cost_price": "9.10",
        "tags": ["fresh", "baby"],
    }
    created = client.post("/api/v1/products", json=body, headers=world.staff("marketing"))
    assert created.status_code == 201, created.text
    product = created.json()
    assert product["manufacturer_id"] is not None and product["unit_price"] == "12.80"
    for query in ("牛奶", "whole", ean13(5001), "MILK-1L"):
        found = client.get("/api/v1/products", params={"q": query}, headers=world.staff("analyst"))
        assert [p["sku"] for p in found.json()] == ["MILK-1L"], query
    tagged = client.get("/api/v1/products", params={"tag": "baby"}, headers=world.staff("analyst"))
    assert [p["sku"] for p in tagged.json()] == ["MILK-1L"]
    again = client.post("/api/v1/products", json=body, headers=world.staff("marketing"))
    assert again.status_code == 409 and again.json()["error"]["field"] == "sku"


def test_bad_barcode_is_422_naming_the_field(client, world) -> None:
    body = {"sku": "X1", "barcode": "6901234567891"}
    answer = client.post("/api/v1/products", json=body, headers=world.staff())
    assert answer.status_code == 422
    assert answer.json()["error"]["field"] == "barcode"
    assert "check digit" in answer.json()["error"]["message"]


def test_update_product(client, world) -> None:
    pid = world.products[0].id
    answer = client.patch(
        f"/api/v1/products/{pid}",
        json={"cost_price": "0.99", "tags": ["pet"]},
        headers=world.staff(),
    )
    assert answer.status_code == 200
    assert answer.json()["cost_price"] == "0.99" and answer.json()["tags"] == ["pet"]


def test_cashier_cannot_change_the_catalogue(client, world) -> None:
    answer = client.post("/api/v1/products", json={"sku": "NOPE"}, headers=world.staff("cashier"))
    assert answer.status_code == 403


def test_stores_terminals_and_keys(client, world) -> None:
    admin = world.staff()
    assert (
        client.post(
            "/api/v1/stores", json={"code": "S002", "name": "二店"}, headers=admin
        ).status_code
        == 201
    )
    assert (
        client.post(
            "/api/v1/stores", json={"code": "S002", "name": "dup"}, headers=admin
        ).status_code
        == 409
    )
    assert (
        client.post(
            "/api/v1/stores/S002/terminals", json={"code": "T09"}, headers=admin
        ).status_code
        == 201
    )
    issued = client.post("/api/v1/stores/S002/terminals/T09/key", headers=admin)
    assert issued.status_code == 201
    key = issued.json()["api_key"]
    listed = client.get("/api/v1/stores/S002/terminals", headers=admin).json()
    assert listed[0]["api_key_prefix"] in key and "api_key" not in listed[0]
    identify = client.post(
        "/api/v1/till/identify",
        json={"card_no": world.members[0].card_no},
        headers={"X-Api-Key": key},
    )
    assert identify.status_code == 200
    reissued = client.post("/api/v1/stores/S002/terminals/T09/key", headers=admin).json()["api_key"]
    assert (
        client.post(
            "/api/v1/till/identify", json={"card_no": "C0000001"}, headers={"X-Api-Key": key}
        ).status_code
        == 401
    )
    assert (
        client.post(
            "/api/v1/till/identify", json={"card_no": "C0000001"}, headers={"X-Api-Key": reissued}
        ).status_code
        == 200
    )
    assert (
        client.post("/api/v1/stores/NOPE/terminals", json={"code": "T1"}, headers=admin).status_code
        == 404
    )


def test_products_to_review_through_the_api(client, world) -> None:
    """A till's unknown barcode is listed with ``needs_review=true`` until staff name it."""
    payload = receipt_payload(world, "REVIEW-1", member=False, lines=1)
    new_code = ean13(424_242)
    payload["lines"][0]["barcode"] = new_code  # type: ignore[index]
    assert client.post("/api/v1/receipts", json=payload, headers=world.till()).status_code == 201
    staff = world.staff()
    listed = client.get("/api/v1/products", params={"needs_review": "true"}, headers=staff).json()
    assert [p["barcode"] for p in listed] == [new_code]
    known = client.get("/api/v1/products", params={"needs_review": "false"}, headers=staff).json()
    assert new_code not in {p["barcode"] for p in known} and len(known) == len(world.products)
    named = client.patch(
        f"/api/v1/products/{listed[0]['id']}", json={"name_en": "Oat milk"}, headers=staff
    )
    assert named.status_code == 200 and named.json()["needs_review"] is False
    assert client.get("/api/v1/products?needs_review=true", headers=staff).json() == []


def test_a_product_added_without_a_name_is_to_review(client, world, tmp_path) -> None:
    """Staff may add a product before they know its name (a price, a barcode): the API and
    an import list it to review, as a till's unknown barcode, until it is named."""
    staff = world.staff()
    made = client.post(
        "/api/v1/products", json={"sku": "NONAME-1", "unit_price": "2.00"}, headers=staff
    )
    assert made.status_code == 201 and made.json()["needs_review"] is True
    named = client.post(
        "/api/v1/products", json={"sku": "NAMED-1", "name_zh": "燕麦奶"}, headers=staff
    )
    assert named.json()["needs_review"] is False
    content = b"sku,name_en,unit_price\nNONAME-2,,3.00\nNAMED-2,Rice,9.90\n"
    loaded = client.post(
        "/api/v1/imports/products",
        files={"file": ("p.csv", content, "text/csv")},
        headers=staff,
    )
    assert loaded.status_code == 201 and loaded.json()["rows_loaded"] == 2
    listed = client.get("/api/v1/products", params={"needs_review": "true"}, headers=staff)
    assert sorted(p["sku"] for p in listed.json()) == ["NONAME-1", "NONAME-2"]
    # A later file that names it completes it.
    again = b"sku,name_en\nNONAME-2,Walnuts\n"
    client.post(
        "/api/v1/imports/products", files={"file": ("q.csv", again, "text/csv")}, headers=staff
    )
    listed = client.get("/api/v1/products", params={"needs_review": "true"}, headers=staff)
    assert [p["sku"] for p in listed.json()] == ["NONAME-1"]
