"""The admin's operations pages in Chromium: the outbox and the scheduled jobs.

Two messages are queued on the live server's database through the notify service; with no
SMTP server or SMS gateway configured they wait, and the page says why. A job is run from
the jobs page and its run appears. Screenshots: ``docs/screenshots/outbox.png``, ``jobs.png``.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from regulars.core.db import make_engine, make_session_factory
from regulars.core.uow import UnitOfWork
from regulars.notify.service import outbox_enqueue
from tests.browser.conftest import LiveServer
from tests.browser.helpers import ACCOUNTS, screenshot, staff_login

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def _queue(live_server: LiveServer) -> None:
    engine = make_engine(live_server.database_url)
    try:
        with UnitOfWork(make_session_factory(engine)) as uow:
            outbox_enqueue(
                uow,
                channel="email",
                recipient="wang.fang@example.com",
                subject="您的会员页验证码",
                body="验证码 123456",
                member_id=None,
                purpose="otp",
            )
            outbox_enqueue(
                uow,
                channel="sms",
                recipient="+8613912340077",
                subject=None,
                body="您的个性化购物清单已更新",
                member_id=None,
                purpose="personal_list",
            )
            uow.commit()
    finally:
        engine.dispose()


def test_outbox_and_jobs_pages(page: Page, live_server: LiveServer) -> None:
    _queue(live_server)
    staff_login(page, ACCOUNTS["admin"], next="/outbox")
    page.goto("/outbox")
    listing = page.get_by_test_id("outbox-list")
    expect(listing).to_contain_text("w***@example.com")
    expect(listing).to_contain_text("139****0077")
    expect(page.get_by_test_id("no-transport")).to_be_visible()
    assert "wang.fang@example.com" not in page.content()  # recipients masked
    assert "123456" not in page.content()  # bodies withheld
    page.get_by_test_id("outbox-send").click()
    expect(page.get_by_test_id("dispatched")).to_be_visible()
    screenshot(page, "outbox.png")

    page.goto("/jobs")
    jobs = page.get_by_test_id("jobs")
    expect(jobs).to_contain_text("analytics-nightly")
    page.get_by_test_id("run-coupons-expire").click()
    expect(page).to_have_url(re.compile(r"/jobs\?started=coupons-expire"))
    page.goto("/jobs")
    expect(page.get_by_test_id("job-runs")).to_contain_text("coupons-expire")
    screenshot(page, "jobs.png")
