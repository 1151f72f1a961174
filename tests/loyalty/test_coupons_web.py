"""Coupon pages: the profile's coupons, compensation with a reason, the rewards catalogue on
the programme page, the lookup page, and the member's own page with scannable codes."""

from __future__ import annotations

from decimal import Decimal

from fastapi.testclient import TestClient
from sqlalchemy import select

from regulars.core.uow import UnitOfWork
from regulars.loyalty import programme, queries, rules, service
from regulars.loyalty.models import MemberCoupon
from regulars.loyalty.schemas import RewardCreate
from regulars.members import portal
from regulars.staff.models import AuditEvent
from tests.factories.loyalty import configure, give_coupon
from tests.factories.web import csrf_of, login, make_staff
from tests.factories.world import World


def _coupons(uow: UnitOfWork, member_id: int) -> list[MemberCoupon]:
    uow.session.expire_all()
    return queries.coupons_of_member(uow.session, member_id=member_id)


def test_desk_issues_exchanges_and_voids_from_the_profile(
    client: TestClient, uow: UnitOfWork, world: World
) -> None:
    member = world.members[0].id
    configure(uow, pending_days=0)
    service.points_adjust(uow, member_id=member, points=600, kind="adjust", reason="r", actor="t")
    programme.reward_create(
        uow, data=RewardCreate(code="BAG", name="环保袋", kind="gift", points=250)
    )
    uow.commit()
    make_staff(uow, "desk", "service_desk")
    login(client, "desk")
    profile = client.get(f"/members/{member}")
    assert 'data-testid="coupon-form"' in profile.text and 'data-testid="rewards"' in profile.text
    token = csrf_of(profile.text)
    url = f"/members/{member}/coupons"
    form = {"csrf_token": token, "kind": "amount", "value": "8", "min_spend": "40"}
    refused = client.post(url, data={**form, "reason": "  "})
    assert refused.status_code == 422
    done = client.post(url, data={**form, "reason": "eggs broken"}, follow_redirects=False)
    assert done.status_code == 303
    [coupon] = _coupons(uow, member)
    assert (coupon.value, coupon.min_spend, coupon.reason) == (8, 40, "eggs broken")
    bad_value = client.post(url, data={**form, "value": "lots", "reason": "x"})
    assert bad_value.status_code == 422

    bought = client.post(
        f"{url}/exchange", data={"csrf_token": token, "reward_id": _reward_id(uow, "BAG")}
    )
    assert bought.status_code == 200  # followed back to the profile
    assert "环保袋" in bought.text
    assert queries.points_summary(uow, member_id=member).available == 350
    gift = _coupons(uow, member)[0]
    voided = client.post(
        f"{url}/{gift.id}/void", data={"csrf_token": token, "reason": "no bags left"}
    )
    assert voided.status_code == 200
    assert _coupons(uow, member)[0].status == "void"
    assert queries.points_summary(uow, member_id=member).available == 600
    other = give_coupon(uow, world.members[1].id)
    foreign = client.post(f"{url}/{other.id}/void", data={"csrf_token": token, "reason": "x"})
    assert foreign.status_code == 422
    actions = list(
        uow.session.scalars(select(AuditEvent.action).where(AuditEvent.member_id == member))
    )
    assert {"coupon_compensate", "coupon_exchange", "coupon_void"} <= set(actions)
    page = client.get(f"/members/{member}")
    assert rules.coupon_code_display(coupon.code) in page.text


def _reward_id(uow: UnitOfWork, code: str) -> int:
    found = programme.reward_by_code(uow, code=code)
    assert found is not None
    return found.id


def test_cashier_sees_coupons_but_cannot_issue(
    client: TestClient, uow: UnitOfWork, world: World
) -> None:
    member = world.members[0].id
    give_coupon(uow, member)
    make_staff(uow, "till", "cashier")
    token = login(client, "till")
    profile = client.get(f"/members/{member}")
    assert 'data-testid="coupons"' in profile.text
    assert 'data-testid="coupon-form"' not in profile.text
    denied = client.post(
        f"/members/{member}/coupons",
        data={"csrf_token": token, "kind": "amount", "value": "5", "reason": "x"},
    )
    assert denied.status_code == 403


def test_programme_page_keeps_the_rewards_catalogue_and_birthday_coupon(
    client: TestClient, uow: UnitOfWork, world: World
) -> None:
    make_staff(uow, "mkt", "marketing")
    login(client, "mkt")
    token = csrf_of(client.get("/loyalty").text)
    reward = {
        "csrf_token": token,
        "code": "TEN",
        "name": "满100减10",
        "kind": "amount",
        "points": "1000",
        "value": "10",
        "min_spend": "100",
        "valid_days": "30",
        "active": "on",
    }
    saved = client.post("/loyalty/rewards", data=reward)
    assert saved.status_code == 200 and "满100减10" in saved.text
    changed = client.post("/loyalty/rewards", data={**reward, "points": "900", "stock": "50"})
    assert changed.status_code == 200
    found = programme.reward_by_code(uow, code="TEN")
    assert found is not None
    uow.session.refresh(found)
    assert (found.points, found.stock, found.min_spend) == (900, 50, 100)
    bad = client.post(
        "/loyalty/rewards", data={**reward, "code": "PCT", "kind": "percent", "value": "150"}
    )
    assert bad.status_code == 422 and 'data-testid="error"' in bad.text
    birthday = client.post(
        "/loyalty/programme",
        data={
            "csrf_token": token,
            "active": "on",
            "birthday_coupon_value": "20",
            "birthday_coupon_min_spend": "88",
        },
    )
    assert birthday.status_code == 200
    current = programme.programme_view(uow)
    assert (current.birthday_coupon_value, current.birthday_coupon_min_spend) == (
        Decimal("20"),
        Decimal("88"),
    )


def test_coupon_lookup_page(client: TestClient, uow: UnitOfWork, world: World) -> None:
    coupon = give_coupon(uow, world.members[0].id, value="7")
    make_staff(uow, "boss", "store_manager", stores=[world.store.id])
    login(client, "boss")
    shown = rules.coupon_code_display(coupon.code)
    found = client.get("/loyalty/coupons", params={"code": shown.lower()})
    assert found.status_code == 200 and shown in found.text and "¥7.00" in found.text
    nothing = client.get("/loyalty/coupons", params={"code": "ZZZZ-ZZZZ"})
    assert nothing.status_code == 200 and shown not in nothing.text


def test_member_sees_scannable_coupons_and_buys_one_with_points(
    client: TestClient, uow: UnitOfWork, world: World
) -> None:
    member = world.members[0].id
    configure(uow, pending_days=0)
    service.points_adjust(uow, member_id=member, points=400, kind="adjust", reason="r", actor="t")
    programme.reward_create(
        uow,
        data=RewardCreate(code="FIVE", name="5元券", kind="amount", points=300, value=Decimal("5")),
    )
    programme.reward_create(
        uow, data=RewardCreate(code="PAN", name="Pan", kind="gift", points=9000)
    )
    coupon = give_coupon(uow, member, value="3")
    session_id, _row = portal.member_session_create(uow, member_id=member)
    uow.commit()
    client.cookies.set("regulars_member", session_id, domain="testserver.local")
    page = client.get("/m/me")
    assert page.status_code == 200
    assert rules.coupon_code_display(coupon.code) in page.text
    assert 'data-testid="coupon-qr"' in page.text and "data:image/svg+xml" in page.text
    assert 'data-testid="coupon-form"' not in page.text  # staff only
    assert 'data-testid="exchange-PAN" disabled' in page.text  # not enough points
    token = csrf_of(page.text)
    forged = client.post(
        "/m/me/coupons", data={"csrf_token": "x", "reward_id": _reward_id(uow, "FIVE")}
    )
    assert forged.status_code == 403
    bought = client.post(
        "/m/me/coupons", data={"csrf_token": token, "reward_id": _reward_id(uow, "FIVE")}
    )
    assert bought.status_code == 200 and "5元券" in bought.text
    assert _coupons(uow, member)[0].title == "5元券"
    assert queries.points_summary(uow, member_id=member).available == 100
    too_dear = client.post(
        "/m/me/coupons", data={"csrf_token": token, "reward_id": _reward_id(uow, "PAN")}
    )
    assert too_dear.status_code == 422
