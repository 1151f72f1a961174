"""The pure loyalty policy: earning, tiers, expiry dates and FIFO allocation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

from regulars.loyalty import rules
from regulars.loyalty.rules import ItemFacts, Lot, Rule, TierRule

D = Decimal
CST = timezone(timedelta(hours=8))
TIERS = (
    TierRule("standard", "普通", 0, D("0"), D("1")),
    TierRule("silver", "银卡", 1, D("2000"), D("1.2")),
    TierRule("gold", "金卡", 2, D("8000"), D("1.5")),
)


def test_points_per_line_are_floored_and_multiplied() -> None:
    items = [ItemFacts(1, 10, D("10.99")), ItemFacts(2, 11, D("5.00"), category="BABY")]
    earning = rules.earn_compute(
        items,
        points_per_unit=D("1"),
        min_spend=D("0"),
        rules=[Rule("category", "BABY", D("3"))],
        tier_multiplier=D("1.5"),
    )
    assert earning.lines == {1: 16, 2: 22}  # 10.99×1.5 = 16.485; 5×3×1.5 = 22.5
    assert earning.spend == D("15.99")


def test_the_best_matching_multiplier_wins_and_tags_match() -> None:
    item = ItemFacts(1, 7, D("10"), category="SNACKS", brand="Oreo", tags=("fresh",))
    found = rules.line_multiplier(
        item,
        [
            Rule("product", "7", D("2")),
            Rule("brand", "Oreo", D("1.5")),
            Rule("tag", "fresh", D("4")),
            Rule("category", "OTHER", D("9")),
        ],
    )
    assert found == D("4")


def test_reward_and_discount_lines_never_earn() -> None:
    """odoo #150833: a reward line must not be counted as spend that earns."""
    items = [ItemFacts(1, 1, D("100")), ItemFacts(2, 2, D("-20")), ItemFacts(3, 3, D("0"))]
    earning = rules.earn_compute(items, points_per_unit=D("1"), min_spend=D("0"))
    assert earning.lines == {1: 80}
    assert 2 not in earning.lines and 3 not in earning.lines


def test_points_paid_part_earns_nothing() -> None:
    items = [ItemFacts(1, 1, D("60")), ItemFacts(2, 2, D("40"))]
    earning = rules.earn_compute(
        items, points_per_unit=D("1"), min_spend=D("0"), redeemed_value=D("50")
    )
    assert earning.line_points == 50 and earning.spend == D("50.00")


def test_minimum_spend() -> None:
    items = [ItemFacts(1, 1, D("9.99"))]
    assert rules.earn_compute(items, points_per_unit=D("1"), min_spend=D("10")).line_points == 0
    items = [ItemFacts(1, 1, D("10"))]
    assert rules.earn_compute(items, points_per_unit=D("1"), min_spend=D("10")).line_points == 10


def test_member_day_uses_the_receipts_local_weekday() -> None:
    # Wednesday 00:30 in Shanghai is still Tuesday in UTC.
    wednesday = datetime(2026, 11, 25, 0, 30, tzinfo=CST)
    assert rules.day_multiplier({"2": "2"}, wednesday) == D("2")
    assert rules.day_multiplier({"2": "2"}, wednesday.astimezone(UTC)) == D("1")


def test_tier_thresholds_and_next_tier() -> None:
    assert rules.tier_for(D("1999.99"), TIERS).code == "standard"
    assert rules.tier_for(D("2000"), TIERS).code == "silver"
    assert rules.tier_for(D("100000"), TIERS).code == "gold"
    assert rules.next_tier("silver", TIERS) == TIERS[2]
    assert rules.next_tier("gold", TIERS) is None


def test_expiry_dates() -> None:
    earned = datetime(2026, 1, 31, 10, tzinfo=CST)
    assert rules.expires_at_for(earned, policy="months", months=1) == datetime(
        2026, 2, 28, 10, tzinfo=CST
    )
    assert rules.expires_at_for(earned, policy="year_end", months=0) == datetime(
        2027, 1, 1, tzinfo=CST
    )
    assert rules.expires_at_for(earned, policy="year_end", months=12) == datetime(
        2028, 1, 1, tzinfo=CST
    )


def test_fifo_takes_the_soonest_expiring_first_and_reports_a_shortfall() -> None:
    t = datetime(2027, 1, 1, tzinfo=UTC)
    lots = [Lot(1, 50, t + timedelta(days=30)), Lot(2, 30, t), Lot(3, 40, None)]
    assert rules.fifo_allocate(lots, 60) == ({2: 30, 1: 30}, 0)
    assert rules.fifo_allocate(lots, 200) == ({2: 30, 1: 50, 3: 40}, 80)


def test_partial_returns_reverse_exactly_the_lines_points() -> None:
    earned = {"1": 99}
    first = rules.reversal_points(earned, {"1": D("1") / 3}, {})
    second = rules.reversal_points(earned, {"1": D("2") / 3}, first)
    third = rules.reversal_points(earned, {"1": D("1")}, {"1": first["1"] + second["1"]})
    assert first["1"] + second["1"] + third["1"] == 99


def test_redemption_value_is_rounded_down() -> None:
    assert rules.redemption_value(150, points_per_unit=100) == D("1.50")
    assert rules.redemption_value(1, points_per_unit=200) == D("0.00")


def test_the_receipt_total_is_floored_once_and_spread_over_the_lines() -> None:
    items = [ItemFacts(1, 1, D("6.50")), ItemFacts(2, 2, D("8.50")), ItemFacts(3, 3, D("0.70"))]
    earning = rules.earn_compute(items, points_per_unit=D("1"), min_spend=D("0"))
    assert earning.line_points == 15  # not 6 + 8 + 0 = 14
    assert earning.lines == {1: 6, 2: 8, 3: 1}  # the largest fraction (0.70) gets it
