"""The member page in Chromium: sign in with a one-time code from the outbox, withdraw a consent."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect
from sqlalchemy import select

from regulars.core.db import make_engine
from regulars.members.models import ConsentEvent
from regulars.notify.models import OutboxMessage
from tests.browser.conftest import MEMBERS, LiveServer
from tests.browser.helpers import screenshot

MEMBER = "li"


def _latest_code(database_url: str) -> str:
    """The code in the newest sign-in message of the outbox (what the SMS would carry)."""
    engine = make_engine(database_url)
    try:
        with engine.connect() as conn:
            body = conn.scalars(
                select(OutboxMessage.body)
                .where(OutboxMessage.purpose == "otp")
                .order_by(OutboxMessage.id.desc())
            ).first()
    finally:
        engine.dispose()
    assert body, "no sign-in code in the outbox"
    found = re.search(r"\b(\d{6})\b", body)
    assert found, body
    return found.group(1)


def test_member_signs_in_with_a_code_and_withdraws_a_consent(
    page: Page, live_server: LiveServer
) -> None:
    name, mobile, _card = MEMBERS[MEMBER]
    page.goto("/m?lang=zh_CN")
    screenshot(page, "member-signin.png")
    page.fill("input[name=identifier]", mobile)
    page.click("[data-testid=signin-form] button[type=submit]")
    expect(page.locator("[data-testid=sent]")).to_be_visible()
    page.fill("input[name=code]", _latest_code(live_server.database_url))
    page.click("[data-testid=code-form] button[type=submit]")
    expect(page).to_have_url(re.compile(r"/m/me"))
    expect(page.locator("[data-testid=member-name]")).to_contain_text(name)
    expect(page.locator("[data-testid=mobile]")).to_contain_text("****")

    # Grant, then withdraw, marketing by SMS; the withdrawal is recorded as the member's.
    page.click("[data-testid=consent-marketing-sms]")
    expect(page.locator("[data-testid=consent-marketing-sms]")).to_have_text(
        re.compile("撤回|withdraw")
    )
    page.click("[data-testid=consent-marketing-sms]")
    expect(page.locator("[data-testid=consent-marketing-sms]")).to_have_text(
        re.compile("同意|grant")
    )
    screenshot(page, "member-page.png")

    engine = make_engine(live_server.database_url)
    try:
        with engine.connect() as conn:
            events = conn.execute(
                select(ConsentEvent.granted, ConsentEvent.source)
                .where(ConsentEvent.purpose == "marketing", ConsentEvent.channel == "sms")
                .order_by(ConsentEvent.id)
            ).all()
    finally:
        engine.dispose()
    assert [tuple(e) for e in events[-2:]] == [(True, "member page"), (False, "member page")]

    page.click("[data-testid=signout]")
    page.goto("/m/me")
    expect(page).not_to_have_url(re.compile(r"/m/me$"))


def test_wrong_code_is_refused(page: Page, live_server: LiveServer) -> None:
    _name, mobile, _card = MEMBERS["wang"]
    page.goto("/m?lang=en")
    page.fill("input[name=identifier]", mobile)
    page.click("[data-testid=signin-form] button[type=submit]")
    page.fill("input[name=code]", "000000")
    page.click("[data-testid=code-form] button[type=submit]")
    expect(page.locator("[data-testid=error]")).to_contain_text("wrong or has expired")
