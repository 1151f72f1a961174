"""Markup typed into a form is shown as text in Chromium and never runs.

The exhaustive payload-by-field checks run without a browser (tests/staff/test_hostile.py);
this one proves the escaping holds where it matters: in a real page with JavaScript on.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.browser.helpers import ACCOUNTS, staff_login

pytestmark = [pytest.mark.browser]

NAME = '<img src=x onerror="window.__pwned=1">'
ADDRESS = "<script>window.__pwned=2</script>{{7*7}}"


def test_markup_in_a_member_name_is_text_and_never_runs(page: Page) -> None:
    staff_login(page, ACCOUNTS["service_desk"])
    page.goto("/members")
    register = page.locator("form[method=post][action='/members']")
    register.locator("input[name=mobile]").fill("13912349999")
    register.locator("input[name=name]").fill(NAME)
    register.locator("button[type=submit]").click()
    expect(page).to_have_url(re.compile(r"/members/\d+$"))

    page.get_by_test_id("edit-form").locator("input[name=address]").fill(ADDRESS)
    page.get_by_test_id("edit-form").locator("button[type=submit]").click()
    expect(page.locator("dl.fields").first).to_contain_text(ADDRESS)

    expect(page.get_by_test_id("member-name")).to_contain_text(NAME)
    assert page.evaluate("typeof window.__pwned") == "undefined"
    assert page.locator("main img").count() == 0
    assert page.locator("main script").count() == 0

    # The search results show the same name, as text too.
    page.goto("/members?q=onerror")
    expect(page.get_by_test_id("member-results")).to_contain_text(NAME)
    assert page.evaluate("typeof window.__pwned") == "undefined"
