"""The till's suggestions and the staff API of baskets."""

from __future__ import annotations

import csv
import io

import pytest

from regulars.baskets.schemas import MineIn
from regulars.jobs.baskets import baskets_mine
from tests.factories.baskets import Shop

LESSON_RULES = MineIn(level="product", min_support=0.2, min_confidence=0.5, min_lift=0)


@pytest.fixture
def mined(uow, shop: Shop) -> Shop:
    baskets_mine(uow, data=LESSON_RULES)
    baskets_mine(uow, data=LESSON_RULES.model_copy(update={"level": "category"}))
    return shop


def test_till_suggestions_need_the_till_key(client, shop: Shop) -> None:
    answer = client.post("/api/v1/till/suggestions", json={"product_ids": [1]})
    assert answer.status_code == 401
    staff = client.post(
        "/api/v1/till/suggestions", json={"product_ids": [1]}, headers=shop.world.staff()
    )
    assert staff.status_code == 401


def test_till_gets_nothing_before_any_run(client, shop: Shop) -> None:
    answer = client.post(
        "/api/v1/till/suggestions",
        json={"product_ids": shop.ids("beer")},
        headers=shop.world.till(),
    )
    assert answer.status_code == 200
    assert answer.json() == {"run_id": None, "suggestions": []}


def test_till_suggestions_by_barcode(client, mined: Shop) -> None:
    shop = mined
    answer = client.post(
        "/api/v1/till/suggestions",
        json={"barcodes": [shop.goods["beer"].barcode], "product_ids": []},
        headers=shop.world.till(),
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert [s["product_id"] for s in body["suggestions"]] == shop.ids("diapers", "milk")
    first = body["suggestions"][0]
    assert first["name_zh"] == "纸尿裤" and first["barcode"] == shop.goods["diapers"].barcode
    assert first["because"] == shop.ids("beer")
    assert first["confidence"] == pytest.approx(0.75) and first["score"] == pytest.approx(0.703125)
    bad = client.post(
        "/api/v1/till/suggestions", json={"product_ids": [0]}, headers=shop.world.till()
    )
    assert bad.status_code == 422
    too_many = client.post(
        "/api/v1/till/suggestions", json={"product_ids": [1] * 501}, headers=shop.world.till()
    )
    assert too_many.status_code == 422


def test_runs_rules_and_export(client, mined: Shop) -> None:
    shop = mined
    staff = shop.world.staff("analyst")
    runs = client.get("/api/v1/baskets/runs", headers=staff).json()
    assert [r["level"] for r in runs] == ["category", "product"]
    active = client.get("/api/v1/baskets/runs/active?level=product", headers=staff).json()
    assert active["id"] == runs[1]["id"] and active["transactions"] == 5
    assert client.get(f"/api/v1/baskets/runs/{runs[0]['id']}", headers=staff).status_code == 200
    assert client.get("/api/v1/baskets/runs/999999", headers=staff).status_code == 404
    page = client.get(
        "/api/v1/baskets/rules", params={"item": "Beer", "min_confidence": 0.7}, headers=staff
    ).json()
    assert page["total"] >= 1
    names = {
        (tuple(i["name"] for i in r["antecedent"]), r["consequent"]["name"]) for r in page["items"]
    }
    assert (("Beer",), "Diapers") in names
    assert all(r["confidence"] >= 0.7 for r in page["items"])
    chinese = client.get(
        "/api/v1/baskets/rules",
        params={"item": "啤酒"},
        headers={**staff, "Accept-Language": "zh-CN"},
    ).json()
    assert any(i["name"] == "啤酒" for r in chinese["items"] for i in r["antecedent"])
    exported = client.get("/api/v1/baskets/rules.csv", params={"level": "category"}, headers=staff)
    assert exported.status_code == 200 and exported.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(exported.text.lstrip("\ufeff"))))
    assert len(rows) == runs[0]["rules"]
    beer = next(r for r in rows if r["antecedent"] == "Beer" and r["consequent"] == "Diapers")
    assert float(beer["support"]) == pytest.approx(0.6) and float(beer["confidence"]) == 0.75
    assert client.get("/api/v1/baskets/rules?level=brand", headers=staff).status_code == 404


def test_companions_shelf_and_promotion(client, mined: Shop) -> None:
    shop = mined
    staff = shop.world.staff("store_manager")
    found = client.get(
        "/api/v1/baskets/companions", params={"item": shop.key("diapers")}, headers=staff
    ).json()
    assert found["item"]["name"] == "Diapers"
    assert {r["consequent"]["name"] for r in found["bought_with"]} >= {"Baby powder"}
    assert {tuple(i["name"] for i in r["antecedent"]) for r in found["leads_here"]} >= {
        ("Beer",),
        ("Baby powder",),
    }
    shelf = client.get("/api/v1/baskets/shelf", headers=staff).json()
    pairs = {(p["category_a"], p["category_b"]): p for p in shelf["pairs"]}
    # beer (Drinks) and milk (Dairy) sit apart; diapers and baby care share the Baby department
    assert ("Beer", "Milk") in pairs and pairs[("Beer", "Milk")]["lift"] == pytest.approx(1.25)
    assert ("Baby care", "Diapers") not in pairs
    together = client.get(
        "/api/v1/baskets/shelf", params={"apart_only": False, "department": "Baby"}, headers=staff
    ).json()
    assert any(p["category_a"] == "Baby care" and not p["apart"] for p in together["pairs"])
    network = client.get("/api/v1/baskets/network", params={"limit": 5}, headers=staff).json()
    assert 0 < len(network["edges"]) <= 5
    lifts = [e["lift"] for e in network["edges"]]
    assert lifts == sorted(lifts, reverse=True)
    assert all(e["source"]["name"] and e["target"]["product_id"] for e in network["edges"])
    promoted = client.get("/api/v1/baskets/promotion", headers=staff).json()
    assert promoted["items"] and promoted["items"][0]["pull"] >= promoted["items"][-1]["pull"]
    assert all(p["pulls"] for p in promoted["items"])


def test_mining_from_the_api_needs_the_permission(client, shop: Shop) -> None:
    body = {"level": "product", "min_support": 0.2, "min_confidence": 0.5, "min_lift": 0}
    refused = client.post(
        "/api/v1/baskets/runs", json=body, headers=shop.world.staff("store_manager")
    )
    assert refused.status_code == 403
    made = client.post("/api/v1/baskets/runs", json=body, headers=shop.world.staff("analyst"))
    assert made.status_code == 201, made.text
    run = made.json()
    assert run["status"] == "done" and run["transactions"] == 5 and run["started_by"] == "t_analyst"
    backwards = client.post(
        "/api/v1/baskets/runs",
        json={**body, "period_from": "2026-11-02", "period_to": "2026-11-01"},
        headers=shop.world.staff("analyst"),
    )
    assert backwards.status_code == 422
    unknown_store = client.post(
        "/api/v1/baskets/runs", json={**body, "store_id": 99_999}, headers=shop.world.staff()
    )
    assert unknown_store.status_code == 404


def test_rule_filters_take_shares_and_keep_the_run_chosen(client, mined: Shop) -> None:
    staff = mined.world.staff("analyst")
    too_big = client.get("/api/v1/baskets/rules", params={"min_support": 2}, headers=staff)
    assert too_big.status_code == 422
    runs = client.get("/api/v1/baskets/runs", headers=staff).json()
    category = runs[0]["id"]
    page = client.get(
        "/api/v1/baskets/rules",
        params={"run_id": category, "min_lift": 1.2, "order": "support", "limit": 2},
        headers=staff,
    ).json()
    assert page["run"]["id"] == category and page["run"]["level"] == "category"
    assert 0 < len(page["items"]) <= 2 and all(r["lift"] >= 1.2 for r in page["items"])
    supports = [r["support"] for r in page["items"]]
    assert supports == sorted(supports, reverse=True)
    exported = client.get(
        "/api/v1/baskets/rules.csv", params={"run_id": category, "min_lift": 1.2}, headers=staff
    )
    assert f"basket-rules-{category}.csv" in exported.headers["content-disposition"]
    assert len(exported.text.strip().splitlines()) == 1 + page["total"]
    assert client.get("/api/v1/baskets/rules.csv?run_id=999999", headers=staff).status_code == 404
