"""The import page in Chromium: upload a file, watch the run finish, read the bad rows."""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import Page, expect

from tests.browser.conftest import LiveServer
from tests.browser.helpers import ACCOUNTS, screenshot, staff_login
from tests.factories.world import ean13


def test_upload_and_read_the_error_report(
    page: Page, live_server: LiveServer, tmp_path: Path
) -> None:
    rows = [
        "sku,barcode,name_en,unit_price",
        f"BR1,{ean13(8801)},Oat milk,9.90",
        "BR2,6901234567891,Broken barcode,1.00",
        "BR3,,Rice,abc",
    ]
    upload = tmp_path / "browser-products.csv"
    upload.write_text("\n".join(rows) + "\n", encoding="utf-8")
    staff_login(page, ACCOUNTS["admin"], next="/imports")
    page.goto("/imports")
    page.select_option("select[name=kind]", "products")
    page.set_input_files("input[name=file]", str(upload))
    page.click("[data-testid=upload-form] button[type=submit]")
    summary = page.locator("[data-testid=run-summary]")
    expect(summary).to_be_visible(timeout=20_000)
    expect(summary).to_contain_text("3")
    expect(page.locator("[data-testid=bad-rows] tbody tr")).to_have_count(2)
    expect(page.locator("[data-testid=report]")).to_be_visible()
    screenshot(page, "import-run.png")
