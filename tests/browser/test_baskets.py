"""Basket rules in Chromium: mine from the page, browse and filter, companions, the chart.

The live server's seed has three receipts; this test adds its own products and 1,500
receipts from the Groceries data (the first baskets of ``groceries.csv``) to the server's
database, so that the pages and the screenshot show real rules, and removes them after.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import delete, select

from regulars.baskets.models import BasketRule, BasketRuleItem, BasketRun
from regulars.catalog import service as catalog_service
from regulars.catalog.models import Product, Store, Terminal
from regulars.catalog.schemas import ProductCreate
from regulars.core.db import make_engine, make_session_factory
from regulars.core.uow import UnitOfWork
from regulars.sales.models import Receipt, ReceiptLine
from tests.browser.conftest import LiveServer
from tests.browser.helpers import ACCOUNTS, screenshot, staff_login
from tests.conftest import SHARED_DATA
from tests.factories.baskets import Shop, record
from tests.factories.world import World

pytestmark = [pytest.mark.browser, pytest.mark.slow]

BASKETS = 1500


@pytest.fixture
def groceries(live_server: LiveServer) -> Iterator[None]:
    """Products named after the Groceries items and one receipt per basket, removed after.

    Removing them keeps the shared server as the other browser tests expect it (their
    product list and its screenshot show the seed's products).
    """
    path = Path(SHARED_DATA) / "groceries" / "groceries.csv"
    baskets = [line.split(",") for line in path.read_text().splitlines()[:BASKETS] if line]
    engine = make_engine(live_server.database_url)
    factory = make_session_factory(engine)
    try:
        with UnitOfWork(factory) as uow:
            store = uow.session.scalars(
                select(Store).where(Store.code == live_server.seeded.store_code)
            ).one()
            terminal = uow.session.scalars(
                select(Terminal).where(Terminal.store_id == store.id)
            ).first()
            names = sorted({item for basket in baskets for item in basket})
            goods = {
                name: catalog_service.product_create(
                    uow,
                    data=ProductCreate(
                        sku=f"GR{number:03d}",
                        name_en=name,
                        category=name,
                        department="Groceries",
                        unit_price=Decimal("3.00"),
                    ),
                )
                for number, name in enumerate(names)
            }
            world = World(store=store, terminal=terminal, api_key="", products=[], members=[])
            receipts = [r.id for r in record(uow, Shop(world=world, goods=goods), baskets)]
            products = [p.id for p in goods.values()]
            uow.commit()
        yield
        with UnitOfWork(factory) as uow:
            for table in (BasketRuleItem, BasketRule, BasketRun):
                uow.session.execute(delete(table))
            uow.session.execute(delete(ReceiptLine).where(ReceiptLine.receipt_id.in_(receipts)))
            uow.session.execute(delete(Receipt).where(Receipt.id.in_(receipts)))
            uow.session.execute(delete(Product).where(Product.id.in_(products)))
            uow.commit()
    finally:
        engine.dispose()


def test_mine_browse_and_chart(page: Page, groceries: None) -> None:
    staff_login(page, ACCOUNTS["analyst"], next="/baskets")
    page.goto("/baskets")
    form = page.get_by_test_id("mine-form")
    form.locator("select[name=level]").select_option("product")
    form.locator("input[name=min_support]").fill("0.005")
    form.locator("input[name=min_confidence]").fill("0.25")
    form.locator("input[name=min_lift]").fill("1")
    form.locator("button[type=submit]").click()
    expect(page.get_by_test_id("started")).to_be_visible()
    # the run is mined after the answer is sent: reload until the rules are there
    rules = page.get_by_test_id("rules")
    for _attempt in range(30):
        if page.get_by_test_id("run").count():
            break
        page.wait_for_timeout(500)
        page.reload()
    expect(page.get_by_test_id("run")).to_contain_text(re.compile(r"150\d"))  # and the seed's 3
    expect(rules.locator("tbody tr").first).to_contain_text("⇒")
    expect(page.get_by_test_id("runs")).to_contain_text("b_analyst")
    screenshot(page, "baskets.png")

    page.get_by_test_id("item-search").fill("whole milk")
    page.get_by_test_id("rule-filters").locator("button[type=submit]").click()
    expect(rules).to_contain_text("whole milk")
    rows = rules.locator("tbody tr")
    for index in range(rows.count()):
        expect(rows.nth(index)).to_contain_text("whole milk")

    rules.get_by_role("link", name="whole milk").first.click()
    expect(page).to_have_url(re.compile(r"/baskets/companions\?"))
    expect(page.locator("h1")).to_contain_text("whole milk")
    expect(page.get_by_test_id("bought-with").locator("tbody tr").first).to_contain_text("%")

    page.goto("/baskets/network")
    chart = page.get_by_test_id("network")
    expect(chart).to_be_visible()
    assert chart.locator("path.edge").count() > 5
    expect(page.get_by_test_id("edges")).to_contain_text("⇒")
    screenshot(page, "baskets-network.png")

    export = page.request.get("/baskets/rules.csv?item=whole%20milk")
    assert export.ok and "whole milk" in export.text()
