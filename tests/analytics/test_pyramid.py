"""The value pyramid: profit per member, tiers, loss-makers, the Pareto curve and top share."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import polars as pl
import pytest

from regulars.analytics.calibration import complete_journey
from regulars.analytics.frames import LINES
from regulars.analytics.pyramid import (
    PARETO,
    PYRAMID,
    TIERS,
    PyramidCuts,
    pareto_curve,
    profit_pyramid,
    top_share,
)

AS_OF = datetime(2024, 7, 1, tzinfo=UTC)


def lines_of(rows: list[tuple[Any, ...]]) -> pl.DataFrame:
    """Lines from (receipt, member, days before AS_OF, amount, cost) tuples."""
    return pl.DataFrame(
        [
            {
                "receipt_id": row[0],
                "member_id": row[1],
                "store_id": 1,
                "at": AS_OF - timedelta(days=row[2]),
                "product_id": 7,
                "quantity": 1.0 if row[3] >= 0 else -1.0,
                "amount": row[3],
                "cost": row[4],
            }
            for row in rows
        ],
        schema=dict(LINES),
    )


def test_profit_is_margin_on_known_costs_within_the_window() -> None:
    lines = lines_of(
        [
            (1, 1, 10, 10.0, 6.0),
            (1, 1, 10, 5.0, None),  # unknown cost: revenue only
            (2, 1, 5, -4.0, -2.4),  # a return gives its margin back
            (3, 1, 400, 100.0, 10.0),  # before the 365-day window
            (4, 1, -1, 100.0, 10.0),  # after as_of
            (5, None, 3, 100.0, 10.0),  # anonymous
            (6, 2, 1, 3.0, None),  # no known cost at all
        ]
    )
    out = profit_pyramid(lines, as_of=AS_OF)
    assert out.columns == list(PYRAMID)
    assert out.schema == pl.Schema(PYRAMID)
    assert out.select("member_id", "revenue", "cost", "profit", "profit_rank").rows() == [
        (1, 11.0, 3.6, 2.4, 1),
        (2, 3.0, 0.0, 0.0, 2),
    ]


def test_tiers_follow_the_cumulative_shares_and_loss_makers_are_lead() -> None:
    # Twenty members; member k makes a profit of 21 − k, member 20 loses money.
    rows = [(k, k, 1, float(21 - k) + 1.0, 1.0) for k in range(1, 20)]
    rows.append((20, 20, 1, 1.0, 3.0))
    out = profit_pyramid(lines_of(rows), as_of=AS_OF)
    tiers = dict(zip(out["member_id"], out["tier"], strict=True))
    # shares 0.05 per member: platinum ≤ 0.05, gold ≤ 0.20, iron ≤ 0.50
    assert tiers[1] == "platinum"
    assert [tiers[k] for k in (2, 3, 4)] == ["gold"] * 3
    assert {tiers[k] for k in range(5, 11)} == {"iron"}
    assert {tiers[k] for k in range(11, 21)} == {"lead"}
    assert out.filter(pl.col("loss_making"))["member_id"].to_list() == [20]
    assert out["member_share"].to_list() == pytest.approx([k / 20 for k in range(1, 21)])


def test_a_loss_maker_is_lead_even_at_the_top() -> None:
    out = profit_pyramid(lines_of([(1, 1, 1, 1.0, 2.0)]), as_of=AS_OF)
    assert out.row(0, named=True)["tier"] == "lead"
    assert out.row(0, named=True)["loss_making"] is True


def test_equal_profits_are_ranked_by_member_id() -> None:
    rows = [(k, member, 1, 5.0, 3.0) for k, member in enumerate([9, 4, 7], start=1)]
    out = profit_pyramid(lines_of(rows), as_of=AS_OF)
    assert out["member_id"].to_list() == [4, 7, 9]
    assert out["profit_rank"].to_list() == [1, 2, 3]


def test_cuts_are_configurable_and_checked() -> None:
    rows = [(k, k, 1, float(k) + 1.0, 1.0) for k in range(1, 11)]
    out = profit_pyramid(
        lines_of(rows), as_of=AS_OF, cuts=PyramidCuts(platinum=0.1, gold=0.1, iron=0.0)
    )
    assert out["tier"].to_list() == ["platinum", "gold"] + ["lead"] * 8
    with pytest.raises(ValueError, match="at most 1"):
        PyramidCuts(platinum=0.5, gold=0.5, iron=0.5)
    assert set(TIERS) == {"platinum", "gold", "iron", "lead"}


def test_pareto_curve_and_top_share() -> None:
    # Profits 40, 30, 20, 10: the top quarter brings 40 %, the top half 70 %.
    rows = [(k, k, 1, p + 1.0, 1.0) for k, p in enumerate([40.0, 30.0, 20.0, 10.0], start=1)]
    pyramid = profit_pyramid(lines_of(rows), as_of=AS_OF)
    curve = pareto_curve(pyramid, points=5)
    assert curve.schema == pl.Schema(PARETO)
    assert curve["member_share"].to_list() == [0.0, 0.25, 0.5, 0.75, 1.0]
    assert curve["profit_share"].to_list() == pytest.approx([0.0, 0.4, 0.7, 0.9, 1.0])
    assert top_share(pyramid, 0.25) == pytest.approx(0.4)
    assert top_share(pyramid, 0.125) == pytest.approx(0.2)  # halfway into the first member


def test_with_loss_makers_the_curve_rises_above_one() -> None:
    rows = [(1, 1, 1, 11.0, 1.0), (2, 2, 1, 1.0, 6.0)]  # +10 and −5: total 5
    curve = pareto_curve(profit_pyramid(lines_of(rows), as_of=AS_OF), points=3)
    assert curve["profit_share"].to_list() == pytest.approx([0.0, 2.0, 1.0])
    assert top_share(profit_pyramid(lines_of(rows), as_of=AS_OF), 0.5) == pytest.approx(2.0)


def test_without_profit_the_shares_are_null() -> None:
    pyramid = profit_pyramid(lines_of([(1, 1, 1, 1.0, 2.0)]), as_of=AS_OF)
    assert pareto_curve(pyramid, points=3)["profit_share"].null_count() == 3


def test_complete_journey_is_top_heavy() -> None:
    lines = complete_journey()["lines"]
    pyramid = profit_pyramid(lines, as_of=datetime(2018, 1, 2, tzinfo=UTC))
    share = top_share(pyramid, 0.2)
    # The top fifth of households brings about half of the gross profit of the line
    # sample (0.57): far from an even spread (0.2), short of the textbook 80 %.
    assert 0.45 < share < 0.65
    counts = dict(pyramid.group_by("tier").len().iter_rows())
    assert counts["platinum"] == pytest.approx(0.05 * pyramid.height, abs=1)
    assert pyramid.filter(pl.col("loss_making")).height > 0
