"""The loyalty pages in Chromium: programme configuration, a member's points history with
reasons, an adjustment refused without a reason, and the member page's points and coupons.

The member of these tests (孙悟空) is made here, through the services, on the live server's
database: opening points old enough to expire within the month, a receipt that earns and
qualifies spend towards the next tier, a redemption, a compensation coupon, a birthday
coupon and a reward in the catalogue. Screenshots go to ``docs/screenshots/loyalty-*.png``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from regulars.catalog.models import Product, Store, Terminal
from regulars.core.db import make_engine, make_session_factory
from regulars.core.uow import UnitOfWork
from regulars.loyalty import coupons, programme, rules, service
from regulars.loyalty.models import MemberCoupon
from regulars.loyalty.schemas import CouponIssueIn, RewardCreate
from regulars.members import service as member_service
from regulars.members.schemas import MemberCreate
from regulars.sales import service as sales_service
from regulars.sales.schemas import ReceiptIn
from tests.browser.conftest import LiveServer
from tests.browser.helpers import ACCOUNTS, screenshot, staff_login
from tests.browser.test_member_page import _latest_code

pytestmark = [pytest.mark.browser, pytest.mark.slow]

NAME, MOBILE, CARD = "孙悟空", "13912340099", "C1000099"
REWARD = "BAG"


@dataclass(frozen=True)
class Loyal:
    """The seeded member and what the pages must show of them."""

    member_id: int
    coupon_code: str
    expiring: int


def _receipt(
    store: Store, terminal: Terminal, product: Product, number: str, **extra: object
) -> ReceiptIn:
    """A receipt of 100 units of one product (¥850: spend that counts towards silver)."""
    price = Decimal("8.50")
    total = str(price * 100)
    return ReceiptIn.model_validate(
        {
            "receipt_no": number,
            "occurred_at": datetime.now(UTC).isoformat(),
            "member": {"card_no": CARD},
            "lines": [
                {
                    "barcode": product.barcode,
                    "quantity": "100",
                    "unit_price": str(price),
                    "amount": total,
                }
            ],
            "payments": [{"method": "cash", "amount": total}],
            **extra,
        }
    )


@pytest.fixture(scope="module")
def loyal(live_server: LiveServer) -> Iterator[Loyal]:
    """A member with a points history, points expiring soon, spend towards silver, coupons."""
    engine = make_engine(live_server.database_url)
    now = datetime.now(UTC)
    try:
        with UnitOfWork(make_session_factory(engine)) as uow:
            member = member_service.member_register(
                uow, data=MemberCreate(name=NAME, mobile=MOBILE, card_no=CARD)
            )
            # 705 days ago: the opening points expire 24 months after, within the month.
            service.points_adjust(
                uow,
                member_id=member.id,
                points=500,
                kind="adjust",
                reason="开卡积分 (opening balance)",
                actor="browser-seed",
                now=now - timedelta(days=705),
            )
            store = uow.session.scalars(select(Store)).first()
            terminal = uow.session.scalars(select(Terminal)).first()
            product = uow.session.scalars(
                select(Product).where(Product.barcode.is_not(None))
            ).first()
            assert store is not None and terminal is not None and product is not None
            sales_service.receipt_record(
                uow,
                store=store,
                terminal=terminal,
                data=_receipt(store, terminal, product, "LOY-1"),
            )
            sales_service.receipt_record(
                uow,
                store=store,
                terminal=terminal,
                data=_receipt(store, terminal, product, "LOY-2", redeem_points=200),
            )
            coupon = coupons.coupon_compensate(
                uow,
                member_id=member.id,
                data=CouponIssueIn(
                    kind="amount",
                    value=Decimal("5"),
                    min_spend=Decimal("30"),
                    valid_days=60,
                    reason="缺货补偿 (out of stock)",
                ),
                actor="browser-seed",
            )
            coupons.coupon_birthday(uow, member_id=member.id, today=now.date())
            if programme.reward_by_code(uow, code=REWARD) is None:
                programme.reward_create(
                    uow,
                    data=RewardCreate(code=REWARD, name="环保购物袋", kind="gift", points=300),
                )
            uow.commit()
            yield Loyal(member_id=member.id, coupon_code=coupon.code, expiring=300)
    finally:
        engine.dispose()


def test_programme_configuration_is_edited_and_a_reward_added(page: Page, loyal: Loyal) -> None:
    staff_login(page, ACCOUNTS["marketing"], next="/loyalty")
    page.goto("/loyalty")
    form = page.get_by_test_id("programme-form")
    form.locator("input[name=name]").fill("常客积分")
    form.locator("input[name=day_wed]").fill("2")
    form.locator("input[name=birthday_coupon_value]").fill("10")
    form.locator("button[type=submit]").click()
    expect(page.get_by_test_id("ok")).to_be_visible()
    expect(page.get_by_test_id("programme-form").locator("input[name=name]")).to_have_value(
        "常客积分"
    )
    expect(page.get_by_test_id("programme-form").locator("input[name=day_wed]")).to_have_value("2")

    reward = page.get_by_test_id("reward-form")
    reward.locator("input[name=code]").fill("COFFEE")
    reward.locator("input[name=name]").fill("咖啡满30减5")
    reward.locator("select[name=kind]").select_option("amount")
    reward.locator("input[name=points]").fill("500")
    reward.locator("input[name=value]").fill("5")
    reward.locator("input[name=min_spend]").fill("30")
    reward.locator("button[type=submit]").click()
    expect(page.get_by_test_id("ok")).to_be_visible()
    expect(page.get_by_test_id("rewards-table")).to_contain_text("咖啡满30减5")
    screenshot(page, "loyalty-programme.png")

    # A bad value is refused on the page, naming the field.
    page.get_by_test_id("programme-form").locator("input[name=points_per_unit]").fill("lots")
    page.get_by_test_id("programme-form").locator("button[type=submit]").click()
    expect(page.get_by_test_id("error")).to_contain_text("points_per_unit")


def test_points_history_with_reasons_and_an_adjustment_needs_a_reason(
    page: Page, loyal: Loyal
) -> None:
    staff_login(page, ACCOUNTS["service_desk"])
    page.goto(f"/members/{loyal.member_id}")
    history = page.get_by_test_id("points-history")
    rows = history.locator("tbody tr")
    expect(rows).to_have_count(4)  # opening points, earn, redeem, earn
    for n in range(4):
        expect(rows.nth(n).locator("td").nth(4)).not_to_be_empty()  # every line has its reason
    expect(history).to_contain_text("开卡积分")
    expect(page.get_by_test_id("points-expiring")).to_have_text(str(loyal.expiring))
    expect(page.get_by_test_id("tier-progress").locator("progress")).to_be_visible()

    form = page.get_by_test_id("points-form")
    form.locator("input[name=points]").fill("30")
    form.locator("select[name=kind]").select_option("compensate")
    form.locator("button[type=submit]").click()
    # The browser refuses first: the reason is a required field.
    expect(page).to_have_url(re.compile(rf"/members/{loyal.member_id}$"))
    assert form.locator("input[name=reason]").evaluate("e => !e.validity.valid")
    # And so does the server, for a client that skips the check.
    form.locator("input[name=reason]").evaluate("e => e.removeAttribute('required')")
    form.locator("input[name=reason]").fill("   ")
    with page.expect_response(lambda r: r.request.method == "POST") as sent:
        form.locator("button[type=submit]").click()
    assert sent.value.status == 422
    screenshot(page, "loyalty-adjust-refused.png")

    page.goto(f"/members/{loyal.member_id}")
    form = page.get_by_test_id("points-form")
    form.locator("input[name=points]").fill("30")
    form.locator("select[name=kind]").select_option("compensate")
    form.locator("input[name=reason]").fill("会员日积分未到账 (missing member-day points)")
    form.locator("button[type=submit]").click()
    expect(page.get_by_test_id("points-history")).to_contain_text("会员日积分未到账")
    expect(page.get_by_test_id("points-history").locator("tbody tr")).to_have_count(5)

    coupon = page.get_by_test_id("coupon-form")
    coupon.locator("input[name=value]").fill("8")
    coupon.locator("input[name=reason]").fill("投诉处理 (complaint)")
    coupon.locator("button[type=submit]").click()
    expect(page.get_by_test_id("coupons")).to_contain_text("投诉处理")
    screenshot(page, "loyalty-points.png")


def test_member_page_shows_points_expiry_tier_progress_and_coupons(
    page: Page, live_server: LiveServer, loyal: Loyal
) -> None:
    page.goto("/m?lang=zh_CN")
    page.fill("input[name=identifier]", MOBILE)
    page.click("[data-testid=signin-form] button[type=submit]")
    page.fill("input[name=code]", _latest_code(live_server.database_url))
    page.click("[data-testid=code-form] button[type=submit]")
    expect(page).to_have_url(re.compile(r"/m/me"))
    panel = page.get_by_test_id("panel-points")
    expect(panel.get_by_test_id("points-available")).not_to_have_text("0")
    expect(panel.get_by_test_id("points-expiring")).to_have_text(str(loyal.expiring))
    expect(panel.get_by_test_id("tier-progress").locator("progress")).to_be_visible()
    shown = rules.coupon_code_display(loyal.coupon_code)
    expect(panel.get_by_test_id("coupons")).to_contain_text(shown)
    expect(panel.get_by_test_id("coupon-qr").first).to_be_visible()
    assert panel.get_by_test_id("coupon-form").count() == 0  # staff only
    qr = panel.get_by_test_id("coupon-qr").first.get_attribute("src") or ""
    assert qr.startswith("data:image/svg+xml")

    screenshot(page, "loyalty-member-page.png")  # before the exchange spends the old points
    before = panel.get_by_test_id("coupon-code").count()
    panel.get_by_test_id(f"exchange-{REWARD}").click()
    expect(page.get_by_test_id("panel-points").get_by_test_id("coupon-code")).to_have_count(
        before + 1
    )
    expect(page.get_by_test_id("panel-points").get_by_test_id("coupons")).to_contain_text(
        "环保购物袋"
    )

    engine = make_engine(live_server.database_url)
    try:
        with engine.connect() as conn:
            sources = conn.scalars(
                select(MemberCoupon.source).where(MemberCoupon.member_id == loyal.member_id)
            ).all()
    finally:
        engine.dispose()
    assert sorted(sources) == ["birthday", "compensation", "compensation", "points"]
