"""The pure rules: discounts per kind, eligibility, the control draw, budgets, the choice."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from regulars.core.errors import InvalidInput
from regulars.offers import rules
from regulars.offers.rules import Candidate, Terms

D = Decimal


@pytest.mark.parametrize(
    ("terms", "quantity", "price", "expected"),
    [
        (Terms("percent", D("20")), D("2"), D("5.00"), D("2.00")),
        (Terms("amount", D("0.50")), D("3"), D("2.00"), D("1.50")),
        (Terms("price", D("3.99")), D("2"), D("5.00"), D("2.02")),
        (Terms("price", D("6.00")), D("2"), D("5.00"), D("0")),
        (Terms("bxgy", D("0"), 2, 1), D("3"), D("4.00"), D("4.00")),
        (Terms("bxgy", D("0"), 2, 1), D("5"), D("4.00"), D("4.00")),
        (Terms("bxgy", D("0"), 2, 1), D("6"), D("4.00"), D("8.00")),
        (Terms("amount", D("9")), D("1"), D("5.00"), D("5.00")),
    ],
)
def test_line_discount_per_kind(terms: Terms, quantity: D, price: D, expected: D) -> None:
    assert rules.line_discount(terms, quantity=quantity, unit_price=price) == expected


@given(
    kind=st.sampled_from(rules.KINDS),
    value=st.decimals(min_value=0, max_value=100, places=2),
    quantity=st.decimals(min_value=D("0.001"), max_value=50, places=3),
    price=st.decimals(min_value=0, max_value=500, places=2),
)
def test_a_discount_is_never_negative_nor_more_than_the_line(
    kind: str, value: D, quantity: D, price: D
) -> None:
    off = rules.line_discount(Terms(kind, value, 1, 1), quantity=quantity, unit_price=price)
    assert D("0") <= off <= quantity * price


def test_terms_are_checked() -> None:
    with pytest.raises(InvalidInput):
        rules.terms_check(Terms("percent", D("120")))
    with pytest.raises(InvalidInput):
        rules.terms_check(Terms("bxgy", D("0"), None, 1))
    with pytest.raises(InvalidInput):
        rules.terms_check(Terms("amount", D("0")))
    assert rules.terms_check(Terms("price", D("1.99"))).kind == "price"


def test_funding_split_adds_up() -> None:
    assert rules.split(D("1.01"), D("50")) == (D("0.51"), D("0.50"))
    assert rules.split(D("3.00"), D("0")) == (D("0.00"), D("3.00"))


def test_eligibility_is_average_weekly_spend_against_the_threshold() -> None:
    assert rules.weekly_spend(D("1200"), 8) == D("150.00")
    assert rules.is_eligible(D("150.00"), D("150"))
    assert not rules.is_eligible(D("149.99"), D("150"))


def test_the_control_draw_is_deterministic_and_near_its_share() -> None:
    drawn = [rules.in_control(7, m, 0.2) for m in range(1, 5001)]
    assert drawn == [rules.in_control(7, m, 0.2) for m in range(1, 5001)]
    assert 0.18 < sum(drawn) / len(drawn) < 0.22
    other = [rules.in_control(8, m, 0.2) for m in range(1, 5001)]
    assert drawn != other
    assert not any(rules.in_control(7, m, 0.0) for m in range(1, 100))


def test_the_budget_grows_with_value() -> None:
    factors = dict(rules.DEFAULT_TIER_FACTORS)
    budgets = [rules.budget_for(D("20"), t, factors) for t in ("lead", "iron", "gold", "platinum")]
    assert budgets == [D("10.00"), D("20.00"), D("40.00"), D("60.00")]
    assert rules.budget_for(D("20"), None, factors) == D("20.00")


def _cand(product: int, category: str, score: float, discount: str) -> Candidate:
    return Candidate(product, category, score, D(discount), "x", {})


def test_choose_bounds_length_category_and_budget() -> None:
    cands = [
        _cand(1, "A", 0.9, "2"),
        _cand(2, "A", 0.8, "2"),
        _cand(3, "A", 0.7, "2"),
        _cand(4, "B", 0.6, "9"),
        _cand(5, "C", 0.5, "1"),
        _cand(1, "A", 0.4, "1"),
    ]
    chosen = rules.choose(cands, length=4, per_category=2, budget=D("6"))
    # Product 3 is a third of A, product 4 would overrun the budget, product 1 is not twice.
    assert [c.product_id for c in chosen] == [1, 2, 5]
    assert [
        c.product_id for c in rules.choose(cands, length=1, per_category=2, budget=D("99"))
    ] == [1]


def test_list_codes_are_unique_and_scannable() -> None:
    codes = {rules.list_code() for _ in range(1000)}
    assert len(codes) == 1000
    assert all(len(c) == 12 and c.startswith("L") and c.isalnum() for c in codes)
