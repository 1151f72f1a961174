"""A product a till created, completed in Chromium: marketing filters the catalogue to the
products to review, opens one, gives it a name and a price, and it is no longer flagged."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from playwright.sync_api import Page, expect
from sqlalchemy import select

from regulars.catalog.models import Product, Store, Terminal
from regulars.core.db import make_engine, make_session_factory
from regulars.core.uow import UnitOfWork
from regulars.sales import service as sales_service
from regulars.sales.schemas import ReceiptIn
from tests.browser.conftest import LiveServer
from tests.browser.helpers import ACCOUNTS, screenshot, staff_login
from tests.factories.world import ean13


def _sold_unknown_barcode(database_url: str) -> str:
    """Record a sale of a barcode nobody knows (its own per run): the till's placeholder.

    Returns the placeholder's SKU (``BC`` + barcode).
    """
    barcode = ean13(uuid.uuid4().int % 1_000_000_000)
    engine = make_engine(database_url)
    try:
        with UnitOfWork(make_session_factory(engine)) as uow:
            store = uow.session.scalars(select(Store).order_by(Store.id)).first()
            terminal = uow.session.scalars(
                select(Terminal).where(Terminal.store_id == store.id)  # type: ignore[union-attr]
            ).first()
            assert store is not None and terminal is not None
            receipt = ReceiptIn.model_validate(
                {
                    "receipt_no": f"REVIEW-{barcode}",
                    "occurred_at": datetime.now(UTC).isoformat(),
                    "lines": [
                        {
                            "barcode": barcode,
                            "quantity": "1",
                            "unit_price": "6.50",
                            "amount": "6.50",
                        }
                    ],
                    "payments": [{"method": "cash", "amount": "6.50"}],
                }
            )
            sales_service.receipt_record(uow, store=store, terminal=terminal, data=receipt)
            uow.commit()
            product = uow.session.scalars(select(Product).where(Product.barcode == barcode)).one()
            assert product.needs_review
            return product.sku
    finally:
        engine.dispose()


def test_complete_a_product_to_review(page: Page, live_server: LiveServer) -> None:
    sku = _sold_unknown_barcode(live_server.database_url)
    staff_login(page, ACCOUNTS["marketing"], next="/products")
    page.goto("/products")
    expect(page.get_by_test_id("to-review-count")).to_be_visible()
    # Filter to the products to review, narrowed to this test's own one.
    page.get_by_test_id("review-filter").check()
    page.get_by_test_id("product-search").fill(sku)
    page.get_by_test_id("product-search").press("Enter")
    rows = page.get_by_test_id("products").locator("tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text(sku)
    rows.first.get_by_test_id("product-edit").click()
    expect(page.get_by_test_id("review-flag")).to_be_visible()
    expect(page.get_by_test_id("review-state")).to_be_visible()
    form = page.get_by_test_id("product-form")
    form.locator("input[name=name_zh]").fill("海苔脆片")
    form.locator("input[name=name_en]").fill("Seaweed crisps")
    form.locator("input[name=department]").fill("SNACKS")
    form.locator("input[name=unit_price]").fill("6.50")
    screenshot(page, "product-edit.png")
    form.locator("button[type=submit]").click()
    expect(page.get_by_test_id("saved")).to_be_visible()
    expect(page.get_by_test_id("product-title")).to_contain_text("海苔脆片")
    expect(page.get_by_test_id("review-flag")).to_have_count(0)
    expect(page.get_by_test_id("review-state")).to_have_count(0)
    expect(form.locator("input[name=unit_price]")).to_have_value("6.50")
    # No longer among the products to review.
    page.goto(f"/products?review=1&q={sku}")
    expect(page.get_by_test_id("products").locator("tbody tr")).to_have_count(1)
    expect(page.get_by_test_id("products")).not_to_contain_text(sku)
