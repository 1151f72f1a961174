"""Member coupons: codes, terms, the till honouring them once, exchange for points, void,
expiry and merges."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from regulars.core.errors import InvalidInput, RuleViolation
from regulars.core.uow import UnitOfWork
from regulars.loyalty import coupons, programme, queries, rules, service
from regulars.loyalty.models import MemberCoupon, PointsLine
from regulars.loyalty.schemas import RewardCreate, RewardUpdate
from regulars.members import service as members_service
from regulars.sales.models import Receipt
from tests.factories.loyalty import ISSUED, assert_ledger_ok, configure, give_coupon
from tests.factories.world import World, receipt_payload


def post(client: TestClient, world: World, body: dict[str, Any], path: str = "receipts") -> Any:
    return client.post(f"/api/v1/{path}", json=body, headers=world.till())


def with_coupons(world: World, receipt_no: str, *codes: str, **extra: Any) -> dict[str, Any]:
    return {**receipt_payload(world, receipt_no), "coupons": list(codes), **extra}


def fresh(uow: UnitOfWork, coupon: MemberCoupon) -> MemberCoupon:
    uow.session.expire_all()
    found = uow.session.get(MemberCoupon, coupon.id)
    assert found is not None
    return found


# --- pure rules ---------------------------------------------------------------------------


def test_codes_are_random_printable_and_read_forgivingly() -> None:
    made = {rules.coupon_code_new() for _ in range(200)}
    assert len(made) == 200
    assert all(len(c) == 16 and set(c) <= set(rules.CODE_ALPHABET) for c in made)
    assert not set("ILOU") & set(rules.CODE_ALPHABET)
    assert rules.coupon_code_display("K7QM3XH29PDAW4TZ") == "K7QM-3XH2-9PDA-W4TZ"
    # As typed from paper: lower case, spaces, dashes, O for 0 and l for 1.
    assert rules.coupon_code_normalise(" k7qm-3xh2 9pda-wltz ") == "K7QM3XH29PDAW1TZ"
    assert rules.coupon_code_normalise("0o1Il") == "00111"


def test_discounts_follow_the_terms_and_never_exceed_what_is_left() -> None:
    d = rules.coupon_discount
    assert d("amount", Decimal("10"), None, goods=Decimal("80"), payable=Decimal("80")) == 10
    assert d("amount", Decimal("10"), None, goods=Decimal("6"), payable=Decimal("6")) == 6
    # 15 % of 33.30 is 4.995: half up to 5.00, then capped at 4.
    assert d("percent", Decimal("15"), None, goods=Decimal("33.30"), payable=Decimal("99")) == (
        Decimal("5.00")
    )
    assert (
        d("percent", Decimal("15"), Decimal("4"), goods=Decimal("33.30"), payable=Decimal("99"))
        == 4
    )
    assert d("gift", Decimal("0"), None, goods=Decimal("50"), payable=Decimal("50")) == 0
    for kind, value, cap in (
        ("amount", Decimal("0"), None),
        ("percent", Decimal("101"), None),
        ("gift", Decimal("5"), None),
        ("amount", Decimal("5"), Decimal("3")),
        ("voucher", Decimal("5"), None),
    ):
        with pytest.raises(InvalidInput):
            rules.coupon_terms_check(kind, value, cap)


# --- at the till --------------------------------------------------------------------------


def test_the_till_honours_a_coupon_once_and_a_replay_redeems_nothing(
    client: TestClient, world: World, uow: UnitOfWork
) -> None:
    member = world.members[0].id
    coupon = give_coupon(uow, member, value="5", min_spend="10")
    offered = client.post(
        "/api/v1/till/identify", json={"card_no": world.members[0].card_no}, headers=world.till()
    )
    assert offered.status_code == 200, offered.text
    assert [c["code"] for c in offered.json()["coupons"]] == [coupon.code]
    assert offered.json()["coupons"][0]["min_spend"] == "10.00"

    typed = rules.coupon_code_display(coupon.code).lower()  # as a cashier might type it
    body = with_coupons(world, "C-1", typed)  # goods ¥15
    first = post(client, world, body)
    assert first.status_code == 201, first.text
    answer = first.json()
    assert answer["coupons"] == [
        {"code": coupon.code, "kind": "amount", "title": "Compensation coupon", "discount": "5.00"}
    ]
    assert answer["points_earned"] == 10  # only the ¥10 really paid earns
    used = fresh(uow, coupon)
    assert used.status == "redeemed" and used.receipt_id == answer["receipt_id"]
    assert used.discount == Decimal("5.00")

    again = post(client, world, body)
    assert again.status_code == 200 and again.headers["Idempotent-Replay"] == "true"
    assert again.json() == answer
    assert uow.session.scalar(select(func.count()).select_from(Receipt)) == 1
    assert [line.kind for line in _lines(uow, member)] == ["earn"]

    second = post(client, world, with_coupons(world, "C-2", coupon.code))
    assert second.status_code == 409
    assert second.json()["error"]["field"] == "coupons[0]"
    assert "already used" in second.json()["error"]["message"]
    gone = client.post(
        "/api/v1/till/identify", json={"card_no": world.members[0].card_no}, headers=world.till()
    )
    assert gone.json()["coupons"] == []


def _lines(uow: UnitOfWork, member_id: int) -> list[PointsLine]:
    uow.session.expire_all()
    return list(
        uow.session.scalars(
            select(PointsLine).where(PointsLine.member_id == member_id).order_by(PointsLine.id)
        )
    )


def test_unusable_coupons_are_refused_naming_the_field_and_the_reason(
    client: TestClient, world: World, uow: UnitOfWork
) -> None:
    mine, theirs = world.members[0].id, world.members[1].id
    other = give_coupon(uow, theirs)
    big = give_coupon(uow, mine, value="5", min_spend="20")
    old = give_coupon(uow, mine, days=10, at=datetime(2026, 10, 1, tzinfo=UTC))
    later = give_coupon(uow, mine, at=datetime(2026, 12, 1, tzinfo=UTC))
    void = give_coupon(uow, mine)
    coupons.coupon_void(uow, coupon_id=void.id, reason="issued by mistake", actor="t")
    good = give_coupon(uow, mine)
    uow.commit()
    cases = [
        (with_coupons(world, "U-1", other.code), 422, "coupons[0]", "not a coupon of this member"),
        (with_coupons(world, "U-2", big.code), 422, "coupons[0]", "needs a spend of at least 20"),
        (with_coupons(world, "U-3", old.code), 422, "coupons[0]", "expired on 2026-10-11"),
        (with_coupons(world, "U-4", later.code), 422, "coupons[0]", "valid from 2026-12-01"),
        (with_coupons(world, "U-5", good.code, void.code), 422, "coupons[1]", "is void"),
        (with_coupons(world, "U-6", good.code, good.code), 422, "coupons[1]", "given twice"),
        (with_coupons(world, "U-7", "NOSUCHCODE000000"), 422, "coupons[0]", "not a coupon"),
        (
            {**receipt_payload(world, "U-8", member=False), "coupons": [good.code]},
            422,
            "coupons",
            "only be used by their member",
        ),
    ]
    for body, status, field, reason in cases:
        answer = post(client, world, body)
        assert answer.status_code == status, (body["receipt_no"], answer.text)
        assert answer.json()["error"]["field"] == field, body["receipt_no"]
        assert reason in answer.json()["error"]["message"], answer.json()
    # Nothing was recorded: no receipt, the good coupon still unused.
    assert uow.session.scalar(select(func.count()).select_from(Receipt)) == 0
    assert fresh(uow, good).status == "issued"
    zh = client.post(
        "/api/v1/receipts",
        json=with_coupons(world, "U-9", big.code),
        headers={**world.till(), "Accept-Language": "zh-CN"},
    )
    assert zh.status_code == 422 and zh.json()["error"]["field"] == "coupons[0]"


def test_coupons_points_and_earning_on_one_receipt(
    client: TestClient, world: World, uow: UnitOfWork
) -> None:
    member = world.members[0].id
    service.points_adjust(
        uow, member_id=member, points=1000, kind="adjust", reason="opening", actor="t"
    )
    amount = give_coupon(uow, member, value="3")
    percent = give_coupon(uow, member, kind="percent", value="20", max_discount="2.50")
    gift = give_coupon(uow, member, kind="gift", value="0")
    body = with_coupons(world, "P-1", amount.code, percent.code, gift.code, redeem_points=400)
    answer = post(client, world, body)
    assert answer.status_code == 201, answer.text
    got = answer.json()
    # ¥15 of goods: ¥3 off, then 20 % of ¥15 = ¥3 capped at ¥2.50, a gift; ¥4 of points.
    assert [c["discount"] for c in got["coupons"]] == ["3.00", "2.50", "0.00"]
    assert (got["points_redeemed"], got["points_earned"]) == (400, 5)  # ¥15 − 3 − 2.5 − 4
    assert_ledger_ok(uow, member)
    # Points may not pay more than is left after the coupons.
    more = give_coupon(uow, member, value="10")
    refused = post(client, world, with_coupons(world, "P-2", more.code, redeem_points=600))
    assert refused.status_code == 422 and refused.json()["error"]["field"] == "redeem_points"
    assert fresh(uow, more).status == "issued"


def test_returning_the_whole_receipt_reissues_no_coupon(
    client: TestClient, world: World, uow: UnitOfWork
) -> None:
    member = world.members[0].id
    coupon = give_coupon(uow, member, value="5")
    sold = post(client, world, with_coupons(world, "RT-1", coupon.code)).json()
    back = {
        "receipt_no": "RT-1R",
        "occurred_at": "2026-11-21T09:00:00+08:00",
        "original_receipt_no": "RT-1",
        "lines": [{"line_no": 1, "quantity": "2"}, {"line_no": 2, "quantity": "2"}],
    }
    answer = post(client, world, back, "returns")
    assert answer.status_code == 201, answer.text
    assert answer.json()["points_earned"] == -sold["points_earned"]
    used = fresh(uow, coupon)
    assert used.status == "redeemed" and used.receipt_id == sold["receipt_id"]
    assert queries.coupons_usable(uow.session, member_id=member) == []
    assert_ledger_ok(uow, member)


# --- issuing ------------------------------------------------------------------------------


def test_points_for_a_coupon_from_the_catalogue(uow: UnitOfWork, world: World) -> None:
    member = world.members[0].id
    configure(uow, pending_days=0)
    service.points_adjust(uow, member_id=member, points=700, kind="adjust", reason="r", actor="t")
    reward = programme.reward_create(
        uow,
        data=RewardCreate(
            code="TEN", name="¥10 券", kind="amount", points=500, value=Decimal("10"), stock=1
        ),
    )
    coupon = coupons.coupon_exchange(uow, member_id=member, reward_code="TEN", actor="desk")
    assert (coupon.source, coupon.reward_id, coupon.value) == ("points", reward.id, 10)
    line = uow.session.get(PointsLine, coupon.points_line_id)
    assert line is not None
    assert (line.kind, line.points, line.source_type, line.source_id) == (
        "redeem",
        -500,
        "reward",
        reward.id,
    )
    assert queries.points_summary(uow, member_id=member).available == 200
    assert_ledger_ok(uow, member)
    # The last one is gone; a bigger reward costs more than is left; a retired one is refused.
    service.points_adjust(uow, member_id=member, points=900, kind="adjust", reason="r", actor="t")
    with pytest.raises(RuleViolation, match="out of stock"):
        coupons.coupon_exchange(uow, member_id=member, reward_id=reward.id, actor="desk")
    big = programme.reward_create(
        uow, data=RewardCreate(code="BIG", name="Pan", kind="gift", points=5000)
    )
    with pytest.raises(RuleViolation) as refused:
        coupons.coupon_exchange(uow, member_id=member, reward_id=big.id, actor="desk")
    assert refused.value.params["available"] == 1100
    programme.reward_update(uow, reward_id=big.id, data=RewardUpdate(active=False, points=1))
    with pytest.raises(RuleViolation, match="not offered"):
        coupons.coupon_exchange(uow, member_id=member, reward_id=big.id, actor="desk")
    assert_ledger_ok(uow, member)


def test_pending_points_buy_no_coupon(uow: UnitOfWork, world: World) -> None:
    member = world.members[0].id
    configure(uow, pending_days=7)
    service.receipt_points(
        uow,
        member_id=member,
        source_id=1,
        occurred_at=datetime.now(UTC),
        lines=[service.TillLine(1, world.products[0].id, Decimal("800"), Decimal("1"))],
    )
    programme.reward_create(
        uow, data=RewardCreate(code="T", name="t", kind="amount", points=100, value=Decimal("1"))
    )
    with pytest.raises(RuleViolation):
        coupons.coupon_exchange(uow, member_id=member, reward_code="T", actor="desk")


def test_void_gives_back_the_points_paid_and_only_unused_coupons_void(
    uow: UnitOfWork, world: World
) -> None:
    member = world.members[0].id
    configure(uow, pending_days=0)
    service.points_adjust(uow, member_id=member, points=300, kind="adjust", reason="r", actor="t")
    programme.reward_create(uow, data=RewardCreate(code="G", name="Mug", kind="gift", points=300))
    coupon = coupons.coupon_exchange(uow, member_id=member, reward_code="G", actor="desk")
    assert queries.points_summary(uow, member_id=member).available == 0
    with pytest.raises(InvalidInput):
        coupons.coupon_void(uow, coupon_id=coupon.id, reason=" ", actor="desk")
    coupons.coupon_void(uow, coupon_id=coupon.id, reason="out of mugs", actor="desk")
    assert coupon.status == "void" and coupon.void_reason == "out of mugs"
    assert queries.points_summary(uow, member_id=member).available == 300
    back = _lines(uow, member)[-1]
    assert (back.kind, back.source_type, back.source_id, back.points) == (
        "adjust",
        "coupon",
        coupon.id,
        300,
    )
    with pytest.raises(RuleViolation, match="only an unused coupon"):
        coupons.coupon_void(uow, coupon_id=coupon.id, reason="again", actor="desk")
    assert_ledger_ok(uow, member)


def test_expiry_job_and_usable_coupons(uow: UnitOfWork, world: World) -> None:
    member = world.members[0].id
    now = datetime.now(UTC)
    short = give_coupon(uow, member, days=1, at=now - timedelta(days=2))
    lasting = give_coupon(uow, member, days=30, at=now - timedelta(days=2))
    assert queries.coupon_state(fresh(uow, short)) == "expired"  # before the job, too
    assert [c.id for c in queries.coupons_usable(uow.session, member_id=member)] == [lasting.id]
    assert coupons.coupons_expire(uow) == 1
    assert fresh(uow, short).status == "expired" and fresh(uow, lasting).status == "issued"


def test_a_merge_moves_coupons_and_keeps_one_birthday_coupon_a_year(
    uow: UnitOfWork, world: World
) -> None:
    survivor, duplicate = world.members[0].id, world.members[1].id
    today = datetime(2026, 11, 5, tzinfo=UTC).date()
    kept = coupons.coupon_birthday(uow, member_id=survivor, today=today)
    moved = coupons.coupon_birthday(uow, member_id=duplicate, today=today)
    extra = give_coupon(uow, duplicate)
    assert kept is not None and moved is not None
    members_service.member_merge(uow, survivor_id=survivor, merged_id=duplicate, actor="t")
    uow.flush()
    uow.session.expire_all()  # the merge moves rows with Core updates
    held = {c.id: c for c in queries.coupons_of_member(uow.session, member_id=survivor)}
    assert set(held) == {kept.id, moved.id, extra.id}
    assert (held[kept.id].period, held[moved.id].period) == ("2026", None)
    assert coupons.coupon_birthday(uow, member_id=survivor, today=today) is held[kept.id]


def test_no_birthday_coupon_when_the_programme_gives_none(uow: UnitOfWork, world: World) -> None:
    configure(uow, birthday_coupon_value=Decimal("0"))
    today = ISSUED.date()
    assert coupons.coupon_birthday(uow, member_id=world.members[0].id, today=today) is None
