"""Merging a duplicate in Chromium: the service desk finds the second registration of a
member among the possible duplicates, compares the two and merges them."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import LiveServer
from tests.browser.helpers import ACCOUNTS, screenshot, staff_login

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_service_desk_merges_a_second_registration(page: Page, live_server: LiveServer) -> None:
    kept = live_server.seeded.member_ids["twice"]
    duplicate = live_server.seeded.member_ids["twice_card"]
    staff_login(page, ACCOUNTS["service_desk"], next=f"/members/{kept}")
    page.goto(f"/members/{kept}")
    page.get_by_test_id("merge-link").click()
    candidates = page.get_by_test_id("candidates").locator("a")
    expect(candidates).to_have_count(1)
    expect(candidates).to_contain_text(f"#{duplicate}")
    candidates.click()
    expect(page.get_by_test_id("duplicate")).to_contain_text("C1000007")
    expect(page.get_by_test_id("kept")).to_contain_text("139****0006")
    page.fill("[data-testid=merge-form] input[name=reason]", "同一人办了两张卡")
    screenshot(page, "member-merge.png")
    page.locator("[data-testid=merge-form] button[type=submit]").click()
    expect(page.get_by_test_id("member-name")).to_contain_text("陈小明")
    expect(page.locator("body")).to_contain_text(f"#{duplicate} → #{kept}")
    expect(page.locator("body")).to_contain_text("同一人办了两张卡")
    # The duplicate's page now points to the member kept.
    page.goto(f"/members/{duplicate}")
    expect(page.locator(f"a[href='/members/{kept}']").first).to_be_visible()
