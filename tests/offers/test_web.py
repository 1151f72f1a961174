"""Offers pages: deal form with errors, CSV import report, cycles and results, one list
with reasons, the profile panel, the funding statement in three formats."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from regulars.core.uow import UnitOfWork
from tests.factories.web import login, make_staff
from tests.factories.world import World
from tests.offers.conftest import deal
from tests.offers.test_till import body, generate, post

FORM = {
    "code": "W1",
    "title": "Web deal",
    "target": "category",
    "target_value": "SNACKS",
    "kind": "percent",
    "value": "10",
    "valid_from": "2026-11-01T00:00:00+08:00",
    "valid_to": "2026-12-01T00:00:00+08:00",
    "manufacturer_share": "0",
    "store_share": "100",
}


def test_deal_form_shows_errors_and_saves(
    client: TestClient, uow: UnitOfWork, world: World
) -> None:
    make_staff(uow, "mkt", "marketing")
    token = login(client, "mkt")
    form = client.get("/deals/new")
    assert form.status_code == 200
    bad = client.post("/deals", data={**FORM, "value": "150", "csrf_token": token})
    assert bad.status_code == 422
    assert 'data-testid="form-error"' in bad.text and "100" in bad.text
    assert 'value="Web deal"' in bad.text  # the values are kept
    good = client.post("/deals", data={**FORM, "csrf_token": token}, follow_redirects=True)
    assert good.status_code == 200 and "W1" in good.text and "10.00% off" in good.text
    listing = client.get("/deals")
    deal_id = int(re.search(r'href="/deals/(\d+)"', listing.text).group(1))  # type: ignore[union-attr]
    edit = client.get(f"/deals/{deal_id}")
    assert edit.status_code == 200 and "Web deal" in edit.text
    changed = client.post(
        f"/deals/{deal_id}",
        data={**FORM, "title": "Renamed", "csrf_token": token},
        follow_redirects=True,
    )
    assert "Renamed" in changed.text
    upload = client.post(
        "/deals-import",
        data={"csrf_token": token},
        files={
            "file": (
                "d.csv",
                b"code,title,target,target_value,kind,value,valid_from,valid_to\nX,,product,SKU1,percent,5,,\n",
                "text/csv",
            )
        },
    )
    assert upload.status_code == 200 and 'data-testid="import-report"' in upload.text
    assert "line 2" in upload.text


def test_lists_pages_and_the_profile_panel(
    client: TestClient, uow: UnitOfWork, world: World
) -> None:
    deal(uow, world, 0)
    made = generate(uow, world, 0)
    post(client, world, body(world, "W-1"))
    make_staff(uow, "boss", "admin")
    login(client, "boss")
    member = world.members[0].id
    row = made[member]
    cycles = client.get("/lists")
    assert cycles.status_code == 200 and "25.0%" in cycles.text  # 1 of 4 items redeemed
    cycle = client.get(f"/lists/cycles/{row.cycle_id}")
    assert cycle.status_code == 200 and 'data-testid="not-measured"' in cycle.text
    shown = client.get(f"/lists/{row.id}")
    assert shown.status_code == 200 and "a favourite of our shoppers" in shown.text
    profile = client.get(f"/members/{member}")
    assert profile.status_code == 200 and 'data-testid="list-panel"' in profile.text
    assert row.code is not None and row.code in profile.text
    statement = client.get(
        "/offers/statement?start=2026-11-01T00:00:00%2B08:00&end=2026-12-01T00:00:00%2B08:00"
    )
    assert statement.status_code == 200 and "D0" in statement.text
    csv_answer = client.get(
        "/offers/statement?start=2026-11-01T00:00:00%2B08:00&end=2026-12-01T00:00:00%2B08:00&format=csv"
    )
    assert csv_answer.headers["content-type"].startswith("text/csv")
    assert csv_answer.text.splitlines()[1].split(",")[1] == "D0"
    pdf_answer = client.get("/offers/statement?format=pdf")
    assert pdf_answer.content.startswith(b"%PDF")
    bad = client.get("/offers/statement?start=yesterday")
    assert bad.status_code == 422
    export = client.get(f"/members/{member}/export")
    assert export.status_code == 200 and "lists" in export.json()
