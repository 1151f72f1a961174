"""The receipts pages in Chromium: the service desk finds a receipt by number and reads it."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from tests.browser.conftest import LiveServer
from tests.browser.helpers import ACCOUNTS, screenshot, staff_login


def test_service_desk_finds_a_receipt_and_reads_its_lines(
    page: Page, live_server: LiveServer
) -> None:
    staff_login(page, ACCOUNTS["service_desk"], next="/receipts")
    page.goto("/receipts")
    expect(page.locator("nav[data-testid=sections] a[aria-current=page]")).to_have_attribute(
        "href", "/receipts"
    )
    page.fill("[data-testid=receipt-search]", "R0002")
    page.click("form[role=search] button[type=submit]")
    found = page.locator("[data-testid=receipts] tbody tr")
    expect(found).to_have_count(1)
    expect(found).to_contain_text(live_server.seeded.store_code)
    found.locator("a").click()
    expect(page.locator("h1")).to_contain_text("R0002")
    # The seed's R0002 has 1 + 2 % 3 = 3 lines, nothing returned, and a member.
    expect(page.locator("[data-testid=receipt-lines] tbody tr")).to_have_count(3)
    member = page.locator("[data-testid=member-link]")
    expect(member).to_have_attribute("href", f"/members/{live_server.seeded.member_ids['zhang']}")
    expect(page.locator("[data-testid=receipt-payments] tbody tr")).to_have_count(1)
    screenshot(page, "receipt.png")
