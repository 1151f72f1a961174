"""The ledger's services: earning, pending, FIFO redemption, expiry, tiers, returns, merges."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from regulars.core.errors import InvalidInput, RuleViolation
from regulars.core.uow import UnitOfWork
from regulars.entrypoints.wiring import wire
from regulars.loyalty import programme, queries, service
from regulars.loyalty.models import PointsAccount, PointsLine
from regulars.loyalty.schemas import MultiplierIn, TierIn
from regulars.members import service as member_service
from tests.factories.loyalty import T0, assert_ledger_ok, buy, configure, give_back
from tests.factories.world import World

DAY = timedelta(days=1)


def account(uow: UnitOfWork, member_id: int) -> PointsAccount:
    uow.flush()
    return uow.session.scalars(
        select(PointsAccount).where(PointsAccount.member_id == member_id)
    ).one()


def test_defaults_are_seeded_and_explicit(uow: UnitOfWork) -> None:
    found = programme.programme_get(uow)
    assert found.debt_policy == "claw_back"
    assert found.points_per_unit == Decimal("1") and found.redeem_points_per_unit == 100
    tiers = programme.programme_config(uow.session, found).tiers
    assert [t.code for t in tiers] == ["standard", "silver", "gold", "platinum"]


def test_earned_points_stay_pending_through_the_return_window(
    uow: UnitOfWork, world: World
) -> None:
    m = world.members[0].id
    answer = buy(uow, m, "120.50", "30")
    assert answer["points_earned"] == 150
    assert (answer["balance"], answer["pending"]) == (0, 150)
    with pytest.raises(RuleViolation) as caught:
        buy(uow, m, "10", redeem=100, at=T0 + 6 * DAY)
    assert caught.value.field == "redeem_points"
    later = buy(uow, m, "1", redeem=100, at=T0 + 7 * DAY)
    assert later["points_redeemed"] == 100
    assert later["balance"] == 50
    assert_ledger_ok(uow, m)


def test_multipliers_member_day_tier_and_minimum_spend(uow: UnitOfWork, world: World) -> None:
    m = world.members[0].id
    configure(uow, member_days={"2": "2"}, min_spend="5")
    programme.multipliers_replace(
        uow, rules=[MultiplierIn(target="product", value=str(world.products[0].id), multiplier=3)]
    )
    assert buy(uow, m, "10", product_id=world.products[0].id)["points_earned"] == 30
    assert buy(uow, m, "10", product_id=world.products[1].id)["points_earned"] == 10
    other = world.products[1].id
    assert buy(uow, m, "10", at=T0 + 2 * DAY, product_id=other)["points_earned"] == 20  # Wed
    assert buy(uow, m, "4.99", product_id=other)["points_earned"] == 0
    acc = account(uow, m)
    acc.tier_code = "gold"
    uow.flush()
    assert buy(uow, m, "10", product_id=other)["points_earned"] == 15
    assert_ledger_ok(uow, m)


def test_first_purchase_and_birthday_bonuses_once(uow: UnitOfWork, world: World) -> None:
    member = world.members[0]
    member.birthday = date(1990, T0.month, 15)
    configure(uow, first_purchase_bonus=200, birthday_bonus=500)
    first = buy(uow, member.id, "10")
    assert first["points_earned"] == 10 + 200 + 500
    assert {r["code"] for r in first["rewards"]} == {"first_purchase", "birthday"}
    assert buy(uow, member.id, "10")["points_earned"] == 10
    assert buy(uow, member.id, "10", at=T0.replace(year=2027))["points_earned"] == 510
    assert_ledger_ok(uow, member.id)


def test_redemption_spends_the_soonest_expiring_points_first(uow: UnitOfWork, world: World) -> None:
    m = world.members[0].id
    configure(uow, pending_days=0, expiry_months=12)
    buy(uow, m, "300", source_id=1)
    buy(uow, m, "500", at=T0 + 30 * DAY, source_id=2)
    buy(uow, m, "400", at=T0 + 40 * DAY, redeem=400)
    lots = {
        line.source_id: line.remaining
        for line in uow.session.scalars(select(PointsLine).where(PointsLine.kind == "earn"))
    }
    assert lots[1] == 0 and lots[2] == 400
    assert_ledger_ok(uow, m)


def test_redemption_bounds(uow: UnitOfWork, world: World) -> None:
    m = world.members[0].id
    configure(uow, pending_days=0, min_redemption=100)
    buy(uow, m, "500")
    with pytest.raises(InvalidInput):
        buy(uow, m, "10", redeem=50)
    with pytest.raises(InvalidInput):
        buy(uow, m, "1", redeem=400)  # ¥4 of points for a ¥1 receipt
    with pytest.raises(RuleViolation):
        buy(uow, m, "100", redeem=501)
    answer = buy(uow, m, "10", redeem=499)  # part of the balance
    # 1 point left, plus 5 earned on the ¥5.01 paid in money (pending_days=0).
    assert answer["points_redeemed"] == 499 and answer["balance"] == 1 + 5
    assert_ledger_ok(uow, m)


def test_points_earned_once_are_spent_once(uow: UnitOfWork, world: World) -> None:
    """ERPNext #59050: points earned on one document redeemed again on another."""
    m = world.members[0].id
    configure(uow, pending_days=0)
    buy(uow, m, "200")
    buy(uow, m, "2", redeem=200)
    with pytest.raises(RuleViolation):
        buy(uow, m, "5", redeem=200)
    with pytest.raises(RuleViolation):
        service.points_adjust(uow, member_id=m, points=-1, kind="adjust", reason="x", actor="t")
    assert_ledger_ok(uow, m)


def test_expiry(uow: UnitOfWork, world: World) -> None:
    m = world.members[0].id
    configure(uow, pending_days=0, expiry_months=1, min_redemption=0)
    buy(uow, m, "100")
    buy(uow, m, "50", at=T0 + 20 * DAY, redeem=30)
    # Expired points cannot be spent even before the nightly job has run.
    with pytest.raises(RuleViolation):
        buy(uow, m, "10", at=T0 + 35 * DAY, redeem=100)
    result = service.points_expire(uow, today=(T0 + 35 * DAY).date())
    assert result == {"members": 1, "lines": 1, "points": 70}
    assert account(uow, m).balance == 49  # earned on ¥49.70 paid in money
    assert service.points_expire(uow, today=(T0 + 35 * DAY).date())["lines"] == 0
    assert_ledger_ok(uow, m)


def test_tiers_upgrade_at_once_and_go_down_only_at_review(uow: UnitOfWork, world: World) -> None:
    m = world.members[0].id
    programme.tiers_replace(
        uow,
        tiers=[
            TierIn(code="standard", name="普通", threshold=0, multiplier=1),
            TierIn(code="silver", name="银卡", threshold=1000, multiplier=2),
        ],
    )
    buy(uow, m, "600")
    answer = buy(uow, m, "500", at=T0 + DAY)
    assert answer["tier"] == "silver"
    assert {"code": "tier_upgrade", "tier": "silver"} in answer["rewards"]
    assert buy(uow, m, "10", at=T0 + 2 * DAY)["points_earned"] == 20
    # A year later the spend has rolled out of the window, but the tier stays until review.
    assert buy(uow, m, "10", at=T0 + 400 * DAY)["tier"] == "silver"
    assert service.tiers_review(uow, today=(T0 + 400 * DAY).date())["downgraded"] == 1
    assert account(uow, m).tier_code == "standard"


def test_a_stale_spend_cache_does_not_upgrade(uow: UnitOfWork, world: World) -> None:
    m = world.members[0].id
    programme.tiers_replace(
        uow,
        tiers=[
            TierIn(code="standard", name="普通", threshold=0, multiplier=1),
            TierIn(code="silver", name="银卡", threshold=1000, multiplier=1),
        ],
    )
    buy(uow, m, "900")
    answer = buy(uow, m, "200", at=T0 + 400 * DAY)
    assert answer["tier"] == "standard"
    assert account(uow, m).qualifying_spend == Decimal("200")


def test_a_return_reverses_exactly_the_returned_lines(uow: UnitOfWork, world: World) -> None:
    m = world.members[0].id
    configure(uow, first_purchase_bonus=100)
    buy(uow, m, "90", "30", source_id=7)
    first = give_back(uow, m, 7, [(1, "0.333333", "30")])
    assert first["points_earned"] == -30
    second = give_back(uow, m, 7, [(1, "1", "60")])
    assert second["points_earned"] == -60
    # The bonus goes back only once the whole receipt has come back.
    last = give_back(uow, m, 7, [(2, "1", "30")])
    assert last["points_earned"] == -130
    acc = account(uow, m)
    assert (acc.balance, acc.debt, acc.qualifying_spend) == (0, 0, Decimal("0"))
    assert_ledger_ok(uow, m)


def test_refund_and_keep_the_points_is_impossible_claw_back(uow: UnitOfWork, world: World) -> None:
    """Odoo PR #257854: buy, spend the points, refund — the points come back from the rest."""
    m = world.members[0].id
    configure(uow, pending_days=0)
    buy(uow, m, "300", source_id=11)
    buy(uow, m, "100", source_id=12, at=T0 + DAY)
    buy(uow, m, "5", redeem=300, at=T0 + 2 * DAY)  # spends lot 11 entirely, earns 2
    answer = give_back(uow, m, 11, [(1, "1", "300")], at=T0 + 3 * DAY)
    assert answer["points_earned"] == -300
    acc = account(uow, m)
    assert acc.balance == 0 and acc.debt == 300 - 102
    # Debt is paid from the next points first.
    paid = buy(uow, m, "250", at=T0 + 4 * DAY)
    assert paid["points_earned"] == 250 and paid["debt"] == 0
    assert account(uow, m).balance == 250 - 198
    assert_ledger_ok(uow, m)


def test_debt_policy_keeps_the_rest_of_the_balance(uow: UnitOfWork, world: World) -> None:
    m = world.members[0].id
    configure(uow, pending_days=0, debt_policy="debt")
    buy(uow, m, "300", source_id=21)
    buy(uow, m, "100", source_id=22, at=T0 + DAY)
    buy(uow, m, "5", redeem=250, at=T0 + 2 * DAY)
    give_back(uow, m, 21, [(1, "1", "300")], at=T0 + 3 * DAY)
    acc = account(uow, m)
    # Lot 21 still held 50: they go back, the other 250 become a debt; lot 22 is kept.
    assert (acc.balance, acc.debt) == (102, 250)
    assert_ledger_ok(uow, m)


def test_a_return_of_an_anonymous_or_unknown_receipt_changes_nothing(
    uow: UnitOfWork, world: World
) -> None:
    m = world.members[0].id
    assert give_back(uow, m, 999, [(1, "1", "10")])["points_earned"] == 0


def test_merge_transfers_lots_and_debt(uow: UnitOfWork, world: World) -> None:
    wire()
    keep, dup = world.members[0].id, world.members[1].id
    configure(uow, pending_days=7)
    buy(uow, keep, "100")
    buy(uow, dup, "300", source_id=31)
    service.points_adjust(
        uow, member_id=dup, points=50, kind="compensate", reason="r", actor="t", now=T0
    )
    member_service.member_merge(uow, survivor_id=keep, merged_id=dup, actor="t")
    acc, gone = account(uow, keep), account(uow, dup)
    assert (acc.balance, gone.balance) == (450, 0)
    summary = queries.points_summary(uow, member_id=keep, now=T0)
    assert summary.pending == 400 and summary.available == 50
    # A return of the duplicate's receipt reverses the transferred points on the survivor.
    give_back(uow, keep, 31, [(1, "1", "300")])
    assert account(uow, keep).balance == 150
    assert_ledger_ok(uow, keep, dup)


def test_adjust_needs_a_reason(uow: UnitOfWork, world: World) -> None:
    m = world.members[0].id
    with pytest.raises(InvalidInput):
        service.points_adjust(uow, member_id=m, points=5, kind="adjust", reason=" ", actor="t")
    lines = service.points_grant_many(
        uow, grants=[(world.members[1].id, 10), (m, 20)], reason="opening balance", actor="t"
    )
    assert [line.points for line in lines] == [20, 10]
    assert_ledger_ok(uow, m, world.members[1].id)
