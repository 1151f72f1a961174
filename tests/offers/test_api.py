"""Deals through the staff API: create with validation, update, retire, CSV import."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from fastapi.testclient import TestClient

from tests.factories.world import World

DEAL: dict[str, Any] = {
    "code": "SPRING-1",
    "title": "Spring offer",
    "target": "brand",
    "target_value": "Acme",
    "kind": "percent",
    "value": "15",
    "valid_from": "2026-11-01T00:00:00+08:00",
    "valid_to": "2026-12-01T00:00:00+08:00",
}


def test_deal_crud(client: TestClient, world: World) -> None:
    made = client.post("/api/v1/deals", json=DEAL, headers=world.staff("marketing"))
    assert made.status_code == 201, made.text
    deal = made.json()
    assert deal["kind"] == "percent"
    assert [Decimal(deal[k]) for k in ("value", "store_share", "spent")] == [15, 100, 0]
    dup = client.post("/api/v1/deals", json=DEAL, headers=world.staff("marketing"))
    assert dup.status_code == 409 and dup.json()["error"]["field"] == "code"
    changed = {k: v for k, v in DEAL.items() if k != "code"} | {
        "kind": "bxgy",
        "buy_qty": 2,
        "get_qty": 1,
        "budget": "500",
    }
    put = client.put(f"/api/v1/deals/{deal['id']}", json=changed, headers=world.staff("admin"))
    assert put.status_code == 200 and put.json()["buy_qty"] == 2
    assert Decimal(put.json()["budget"]) == 500
    gone = client.delete(f"/api/v1/deals/{deal['id']}", headers=world.staff("admin"))
    assert gone.json()["active"] is False
    listed = client.get("/api/v1/deals?active=true", headers=world.staff("analyst")).json()
    assert listed == []


def test_deal_validation_answers_422_with_the_field(client: TestClient, world: World) -> None:
    cases = [
        ({"value": "120"}, "value"),
        ({"kind": "bxgy"}, "buy_qty"),
        ({"manufacturer_share": "60"}, None),
        ({"valid_to": "2026-10-01T00:00:00+08:00"}, None),
        ({"manufacturer_share": "50", "store_share": "50"}, "manufacturer_code"),
        (
            {"manufacturer_code": "NOPE", "manufacturer_share": "50", "store_share": "50"},
            "manufacturer_code",
        ),
    ]
    for change, field in cases:
        answer = client.post("/api/v1/deals", json=DEAL | change, headers=world.staff("admin"))
        assert answer.status_code == 422, (change, answer.text)
        if field:
            assert answer.json()["error"]["field"] == field, (change, answer.text)


CSV = """code,title,target,target_value,kind,value,buy_qty,get_qty,valid_from,valid_to,manufacturer_share,store_share,budget,limit_per_member
C1,Ten off,category,SNACKS,percent,10,,,2026-11-01T00:00:00+08:00,2026-12-01T00:00:00+08:00,0,100,,
C2,Bad percent,category,SNACKS,percent,150,,,2026-11-01T00:00:00+08:00,2026-12-01T00:00:00+08:00,0,100,,
C3,Two for one,product,SKU0001,bxgy,,1,1,2026-11-01T00:00:00+08:00,2026-12-01T00:00:00+08:00,0,100,100,2
C4,No dates,product,SKU0001,amount,1,,,,,0,100,,
"""


def test_csv_import_loads_good_rows_and_reports_bad_ones(client: TestClient, world: World) -> None:
    answer = client.post(
        "/api/v1/deals/import",
        files={"file": ("deals.csv", CSV.encode(), "text/csv")},
        headers=world.staff("marketing"),
    )
    assert answer.status_code == 200, answer.text
    report = answer.json()
    assert (report["loaded"], report["updated"]) == (2, 0)
    assert [e["line"] for e in report["errors"]] == [3, 5]
    assert "100" in report["errors"][0]["reason"] and "valid_from" in report["errors"][1]["reason"]
    again = client.post(
        "/api/v1/deals/import",
        files={"file": ("deals.csv", CSV.encode(), "text/csv")},
        headers=world.staff("marketing"),
    ).json()
    assert (again["loaded"], again["updated"]) == (0, 2)
    codes = {d["code"] for d in client.get("/api/v1/deals", headers=world.staff("admin")).json()}
    assert codes == {"C1", "C3"}


def test_csv_import_reports_lines_the_csv_parser_refuses(client: TestClient, world: World) -> None:
    """A lone carriage return is a line end; a NUL byte spoils its line, not the file."""
    header, good, _bad, third, _undated = CSV.splitlines()
    spoilt = good.replace("C1,Ten off", "C9,Ten\x00off")
    content = "\r".join([header, good]) + "\r\n" + spoilt + "\n" + third + "\n"
    answer = client.post(
        "/api/v1/deals/import",
        files={"file": ("deals.csv", content.encode(), "text/csv")},
        headers=world.staff("marketing"),
    )
    assert answer.status_code == 200, answer.text
    report = answer.json()
    assert report["loaded"] == 2
    assert [e["line"] for e in report["errors"]] == [3]
    assert "CSV" in report["errors"][0]["reason"]
    lone = client.post(
        "/api/v1/deals/import",
        files={"file": ("deals.csv", b"\r0\r\n", "text/csv")},
        headers=world.staff("marketing"),
    )
    assert lone.status_code == 422 and lone.json()["error"]["field"] == "file"


def test_settings_and_empty_results(client: TestClient, world: World) -> None:
    got = client.get("/api/v1/lists/settings", headers=world.staff("analyst")).json()
    assert (got["cycle_days"], Decimal(got["threshold"]), got["window_weeks"]) == (14, 150, 8)
    put = client.put(
        "/api/v1/lists/settings",
        json={"threshold": "200", "cycle_days": 7},
        headers=world.staff("marketing"),
    )
    assert (Decimal(put.json()["threshold"]), put.json()["cycle_days"]) == (200, 7)
    bad = client.put(
        "/api/v1/lists/settings", json={"control_share": 0.9}, headers=world.staff("admin")
    )
    assert bad.status_code == 422
    assert (
        client.get("/api/v1/lists/cycles/999/results", headers=world.staff("admin")).status_code
        == 404
    )
