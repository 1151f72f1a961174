"""The staff pages in Chromium: what a service desk, a cashier and an admin see and do.

These tests also write the screenshots under ``docs/screenshots`` (full page, 1280×900),
so the user guide's pictures follow the pages.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from tests.browser.conftest import MEMBERS, LiveServer
from tests.browser.helpers import (
    ACCOUNTS,
    PASSWORD,
    SCREENSHOTS,
    SPARE_ACCOUNTS,
    VIEWPORT,
    screenshot,
    staff_login,
)

pytestmark = [pytest.mark.browser, pytest.mark.slow]

DESK = ACCOUNTS["service_desk"]
ADMIN = ACCOUNTS["admin"]


def _search(page: Page, text: str) -> None:
    page.goto("/members")
    page.get_by_test_id("member-search").fill(text)
    page.get_by_test_id("member-search").press("Enter")
    expect(page.get_by_test_id("member-results")).to_be_visible()


def _open_member(page: Page, live_server: LiveServer, key: str) -> None:
    page.goto(f"/members/{live_server.seeded.member_ids[key]}")
    expect(page.get_by_test_id("member-name")).to_contain_text(MEMBERS[key][0])


def test_login_page(page: Page) -> None:
    page.goto("/login?lang=zh_CN")
    expect(page.locator("h1")).to_have_text("登录")
    screenshot(page, "login.png")
    page.goto("/login?lang=en")
    expect(page.locator("h1")).to_have_text("Log in")


def test_service_desk_finds_a_member_and_switches_language(
    browser: Browser, context: BrowserContext, page: Page, live_server: LiveServer
) -> None:
    name, mobile, _card = MEMBERS["zhang"]
    member_id = live_server.seeded.member_ids["zhang"]
    staff_login(page, DESK)

    _search(page, mobile)
    results = page.get_by_test_id("member-results")
    expect(results.locator("tbody tr")).to_have_count(1)
    expect(results).to_contain_text(name)

    _search(page, "三丰")
    expect(results.locator("tbody tr")).to_have_count(1)
    screenshot(page, "member-search.png")
    results.get_by_role("link", name=name).click()
    expect(page).to_have_url(re.compile(rf"/members/{member_id}$"))

    # The desk's account is in Chinese; the full mobile is shown to the service desk.
    expect(page.get_by_test_id("member-name")).to_contain_text(name)
    expect(page.get_by_test_id("mobile")).to_contain_text(mobile)
    expect(page.locator("header nav")).to_contain_text("会员")
    expect(page.get_by_test_id("receipts")).to_be_visible()
    screenshot(page, "member-profile-zh.png")

    page.get_by_test_id("lang-en").click()
    expect(page).to_have_url(re.compile(rf"/members/{member_id}$"))
    expect(page.locator("header nav")).to_contain_text("Members")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    screenshot(page, "member-profile-en.png")

    page.get_by_test_id("lang-zh").click()
    expect(page.locator("header nav")).to_contain_text("会员")
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")

    # The admin, in a browser profile of their own, sees that view in the audit log.
    admin_context = browser.new_context(base_url=live_server.base_url, viewport=VIEWPORT)
    try:
        admin = admin_context.new_page()
        staff_login(admin, ADMIN)
        admin.goto("/audit")
        admin.fill("input[name=member_id]", str(member_id))
        admin.fill("input[name=actor]", DESK)
        admin.fill("input[name=action]", "profile_view")
        admin.get_by_role("button").filter(has_text=re.compile("Search|搜索")).click()
        rows = admin.get_by_test_id("audit-table").locator("tbody tr")
        expect(rows.first).to_contain_text("profile_view")
        expect(rows.first).to_contain_text(DESK)
        expect(rows.first).to_contain_text(f"/members/{member_id}")
        screenshot(admin, "audit-log.png")
    finally:
        admin_context.close()


def test_cashier_is_refused_the_staff_page(page: Page) -> None:
    staff_login(page, ACCOUNTS["cashier"])
    answer = page.goto("/staff")
    assert answer is not None and answer.status == 403
    expect(page.locator("h1")).to_have_text("无权访问")
    expect(page.get_by_test_id("error")).to_have_text("您的角色无权执行此操作")


def test_wrong_password_then_lockout(page: Page) -> None:
    username = SPARE_ACCOUNTS["lockout"]
    page.goto("/login")
    for _attempt in range(5):
        page.fill("input[name=username]", username)
        page.fill("input[name=password]", "not-the-password")
        page.click("form[action='/login'] button[type=submit]")
        expect(page.get_by_test_id("error")).to_have_text("用户名或密码错误")
    # The sixth attempt, even with the right password, meets the lock.
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("form[action='/login'] button[type=submit]")
    expect(page.get_by_test_id("error")).to_have_text("多次登录失败，账号已锁定，请稍后再试")
    expect(page).to_have_url(re.compile(r"/login"))


def test_consent_grant_and_withdraw(page: Page, live_server: LiveServer) -> None:
    staff_login(page, DESK)
    _open_member(page, live_server, "consent")
    button = page.get_by_test_id("consent-marketing-sms")
    expect(button).to_have_text("同意")
    button.click()
    expect(page.get_by_test_id("consent-marketing-sms")).to_have_text("撤回")
    page.get_by_test_id("consent-marketing-sms").click()
    expect(page.get_by_test_id("consent-marketing-sms")).to_have_text("同意")
    history = page.locator("details", has_text="授权记录").locator("li")
    page.locator("details summary", has_text="授权记录").click()
    expect(history).to_have_count(2)
    expect(history.nth(0)).to_contain_text(f"staff:{DESK}")
    expect(history.nth(1)).to_contain_text(f"staff:{DESK}")


def test_edit_a_profile_field(page: Page, live_server: LiveServer) -> None:
    staff_login(page, DESK)
    _open_member(page, live_server, "edit")
    form = page.get_by_test_id("edit-form")
    form.locator("input[name=community]").fill("静安寺街道")
    form.locator("input[name=hobbies]").fill("烘焙，太极")
    form.locator("button[type=submit]").click()
    expect(page.get_by_test_id("member-name")).to_contain_text(MEMBERS["edit"][0])
    basic = page.locator("dl.fields").first
    expect(basic).to_contain_text("静安寺街道")
    expect(basic).to_contain_text("烘焙, 太极")
    expect(page.get_by_test_id("error")).to_have_count(0)


def test_catalogue_and_stores_pages(page: Page, live_server: LiveServer) -> None:
    staff_login(page, ADMIN)
    page.goto("/products?department=GROCERY")
    # The seeded eight (other tests may import more products into the same server).
    expect(page.get_by_test_id("products").locator("tbody tr")).to_have_count(8)
    page.get_by_test_id("product-search").fill("商品3")
    page.get_by_test_id("product-search").press("Enter")
    expect(page.get_by_test_id("products").locator("tbody tr")).to_have_count(1)
    page.goto("/products")
    screenshot(page, "products.png")
    page.goto("/stores")
    expect(page.locator("main")).to_contain_text(live_server.seeded.store_code)
    screenshot(page, "stores.png")


def test_sections_on_a_phone_stay_one_line_and_mark_the_page(
    browser: Browser, live_server: LiveServer
) -> None:
    phone = browser.new_context(
        base_url=live_server.base_url, viewport={"width": 390, "height": 844}
    )
    try:
        page = phone.new_page()
        staff_login(page, ADMIN)  # the admin sees every section
        page.goto("/loyalty/coupons")
        nav = page.get_by_test_id("sections")
        expect(nav.locator("a[aria-current=page]")).to_have_count(1)
        expect(nav.locator("a[aria-current=page]")).to_have_attribute("href", "/loyalty/coupons")
        box = nav.bounding_box()
        link = nav.locator("a").first.bounding_box()
        assert box is not None and link is not None
        # One line that scrolls sideways, not fourteen links wrapped into a block.
        assert box["height"] < 2 * link["height"], (box, link)
        assert nav.evaluate("n => n.scrollWidth > n.clientWidth")
        assert page.locator("header.top").evaluate("h => h.scrollWidth <= h.clientWidth")
        # Nor does the page scroll sideways: a wide table scrolls by itself.
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
        page.goto("/loyalty")
        expect(nav.locator("a[aria-current=page]")).to_have_attribute("href", "/loyalty")
        page.screenshot(path=str(SCREENSHOTS / "sections-phone.png"))  # the first screen
    finally:
        phone.close()
