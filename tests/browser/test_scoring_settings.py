"""The analyst sets fixed RFM cut points in Chromium, sees them kept, and goes back to
quintiles (other tests' runs on the same server score by quintiles)."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import LiveServer
from tests.browser.helpers import ACCOUNTS, screenshot, staff_login

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_analyst_sets_recency_cut_points(page: Page, live_server: LiveServer) -> None:
    staff_login(page, ACCOUNTS["analyst"], next="/insights")
    page.goto("/insights")
    page.get_by_test_id("scoring-settings-link").click()
    form = page.get_by_test_id("scoring-settings")
    form.locator("input[name=rfm_recency]").fill("7, 30, 90, 180")
    form.locator("input[name=rfm_monetary]").fill("200，500，1000，3000")
    screenshot(page, "scoring-settings.png")
    page.get_by_test_id("save-settings").click()
    expect(page.get_by_test_id("settings-saved")).to_be_visible()
    expect(form.locator("input[name=rfm_recency]")).to_have_value("7, 30, 90, 180")
    expect(form.locator("input[name=rfm_monetary]")).to_have_value("200, 500, 1000, 3000")
    # Refused input stays in the form with the reason, and nothing is saved.
    form.locator("input[name=rfm_frequency]").fill("8, 4, 2, 1")
    page.get_by_test_id("save-settings").click()
    expect(page.get_by_test_id("form-error")).to_be_visible()
    expect(form.locator("input[name=rfm_frequency]")).to_have_value("8, 4, 2, 1")
    for name in ("rfm_recency", "rfm_frequency", "rfm_monetary"):
        form.locator(f"input[name={name}]").fill("")
    page.get_by_test_id("save-settings").click()
    expect(page.get_by_test_id("settings-saved")).to_be_visible()
    expect(form.locator("input[name=rfm_recency]")).to_have_value("")
