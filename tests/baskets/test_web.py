"""Basket pages: browse and filter, companions, network chart, reports, export, mine now."""

from __future__ import annotations

import re
from itertools import combinations

from sqlalchemy import select

from regulars.baskets import queries
from regulars.baskets.models import BasketRun
from regulars.baskets.queries import RuleFilter
from regulars.baskets.schemas import MineIn
from regulars.jobs.baskets import baskets_mine
from regulars.staff.models import AuditEvent
from tests.factories.baskets import GOODS, Shop, record
from tests.factories.web import login, make_staff

LESSON_RULES = MineIn(level="product", min_support=0.2, min_confidence=0.5, min_lift=0)


def test_pages_before_anything_is_mined(client, uow, shop: Shop) -> None:
    make_staff(uow, "ana", "analyst")
    login(client, "ana")
    for path in ("/baskets", "/baskets/network", "/baskets/shelf", "/baskets/promotion"):
        answer = client.get(path)
        assert answer.status_code == 200, path
        assert 'data-testid="no-run"' in answer.text
    assert client.get("/baskets/rules.csv").status_code == 404


def test_browse_filter_companions_network_and_export(client, uow, shop: Shop) -> None:
    # every pair of the eight products twice more: over fifty rules, two pages of them
    record(uow, shop, [list(pair) for pair in combinations(GOODS, 2)] * 2)
    uow.commit()
    loose = LESSON_RULES.model_copy(update={"min_support": 0.01, "min_confidence": 0.0})
    run = baskets_mine(uow, data=loose)
    baskets_mine(uow, data=loose.model_copy(update={"level": "category"}))
    make_staff(uow, "mia", "marketing")
    login(client, "mia")
    home = client.get("/")
    assert 'href="/baskets"' in home.text
    page = client.get("/baskets")
    assert page.status_code == 200
    assert f"Run {run.id}" in page.text and "Diapers" in page.text
    rows = re.findall(r"<tr>", page.text.split('data-testid="rules"')[1].split("</table>")[0])
    assert run.rules > 50 and len(rows) == 1 + 50  # header and the first page
    assert f"{run.rules} rules" in page.text and "page=2" in page.text
    filtered = client.get("/baskets", params={"item": "Baby powder", "min_confidence": "0.25"})
    table = filtered.text.split('data-testid="rules"')[1].split("</table>")[0]
    expected, _rows = queries.rules_search(
        uow.session, run=run, where=RuleFilter(item="Baby powder", min_confidence=0.25)
    )
    assert 0 < expected < run.rules and f"{expected} rules" in filtered.text
    assert "Baby powder" in table and len(re.findall(r"<tr>", table)) == 1 + expected
    companions = client.get("/baskets/companions", params={"item": shop.key("diapers")})
    assert companions.status_code == 200 and "Companions of Diapers" in companions.text
    network = client.get("/baskets/network")
    assert network.status_code == 200 and "<svg" in network.text and 'class="edge"' in network.text
    assert "<script" not in network.text.split("<main>")[1]
    exported = client.get("/baskets/rules.csv", params={"item": "Beer"})
    assert exported.status_code == 200 and "Beer" in exported.text
    shelf = client.get("/baskets/shelf")
    assert shelf.status_code == 200 and "Milk" in shelf.text
    promotion = client.get("/baskets/promotion")
    assert promotion.status_code == 200 and "Baby powder" in promotion.text


def test_pages_speak_chinese(client, uow, shop: Shop) -> None:
    baskets_mine(uow, data=LESSON_RULES)
    make_staff(uow, "zhang", "analyst", locale="zh_CN")
    login(client, "zhang")
    page = client.get("/baskets")
    assert "纸尿裤" in page.text and "啤酒" in page.text


def test_mine_now_from_the_page(client, uow, shop: Shop) -> None:
    make_staff(uow, "ana", "analyst")
    token = login(client, "ana")
    page = client.get("/baskets")
    assert 'data-testid="mine-form"' in page.text
    answer = client.post(
        "/baskets/mine",
        data={
            "csrf_token": token,
            "level": "category",
            "min_support": "0.2",
            "min_confidence": "0,5",
            "min_lift": "0",
            "period_from": "2026-11-01",
            "period_to": "2026-11-30",
        },
        follow_redirects=False,
    )
    assert answer.status_code == 303 and "started=1" in answer.headers["location"]
    run = uow.session.scalars(select(BasketRun).order_by(BasketRun.id.desc())).first()
    assert run is not None and run.status == "done" and run.level == "category"
    assert run.transactions == 5 and run.min_confidence == 0.5 and run.started_by == "ana"
    assert uow.session.scalars(
        select(AuditEvent).where(AuditEvent.action == "baskets_mine")
    ).first()
    shown = client.get(answer.headers["location"])
    assert 'data-testid="started"' in shown.text and "Diapers" in shown.text
    bad = client.post(
        "/baskets/mine", data={"csrf_token": token, "min_support": "2"}, follow_redirects=False
    )
    assert bad.status_code == 422
    no_token = client.post("/baskets/mine", data={"level": "product"}, follow_redirects=False)
    assert no_token.status_code == 403


def test_store_managers_read_but_do_not_mine(client, uow, shop: Shop) -> None:
    make_staff(uow, "boss", "store_manager", stores=[shop.store.id])
    token = login(client, "boss")
    page = client.get("/baskets")
    assert page.status_code == 200 and 'data-testid="mine-form"' not in page.text
    refused = client.post("/baskets/mine", data={"csrf_token": token}, follow_redirects=False)
    assert refused.status_code == 403
