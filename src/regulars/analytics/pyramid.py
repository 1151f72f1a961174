"""The customer value pyramid: members ranked by the gross profit they brought in a window.

Tiers follow the customer pyramid of Zeithaml, Rust & Lemon (2001), *The Customer Pyramid:
Creating and Serving Profitable Customers*, California Management Review 43(4), 118–142:
platinum (the most profitable, worth a dedicated relationship), gold (profitable, but
sharper on price and less committed), iron (the volume that fills capacity) and lead (costs
more than it brings). The paper sets no fixed shares, so the defaults are ours:

* platinum — the top 5 % of members by profit: small enough to be served by name;
* gold — the next 15 %, so that platinum and gold together are the top 20 %, the "vital
  few" of the 80/20 rule the marketing team reads the pyramid by (see :func:`top_share`);
* iron — the next 30 %, down to the median member;
* lead — the bottom half, and *every* loss-making member whatever their rank.

Profit is gross margin, ``amount − cost`` per line, summed over the member's lines in
``[as_of − window_days, as_of)``, returns included (a return gives back its margin). Lines
whose cost is unknown (null) count in ``revenue`` but not in ``cost`` or ``profit``: treating
them as free would invent margin, and guessing a margin would hide the gap in the catalogue.
So ``revenue − cost`` equals ``profit`` only when every cost is known.

Money is summed as integer ten-thousandths (``rfm.money_units``), exactly and in any order,
so both engines give the same sums to the bit. ``profit_rank`` is 1 for the most profitable
member, equal profits ordered by ``member_id``: a strict total order. ``member_share`` is
``profit_rank / n``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
import polars as pl

from regulars.analytics.frames import LINES, require
from regulars.analytics.rfm import PER_UNIT, epoch_us, money_units

__all__ = [
    "PARETO",
    "PYRAMID",
    "TIERS",
    "PyramidCuts",
    "pareto_curve",
    "profit_pyramid",
    "top_share",
]

#: The output columns of :func:`profit_pyramid`.
PYRAMID: Mapping[str, pl.DataType] = {
    "member_id": pl.Int64(),
    "revenue": pl.Float64(),
    "cost": pl.Float64(),
    "profit": pl.Float64(),
    "profit_rank": pl.Int64(),
    "member_share": pl.Float64(),
    "tier": pl.String(),
    "loss_making": pl.Boolean(),
}

#: The output columns of :func:`pareto_curve`.
PARETO: Mapping[str, pl.DataType] = {"member_share": pl.Float64(), "profit_share": pl.Float64()}

#: Tier code → (English, 中文), best first.
TIERS: Mapping[str, tuple[str, str]] = {
    "platinum": ("Platinum", "白金"),
    "gold": ("Gold", "黄金"),
    "iron": ("Iron", "黑铁"),
    "lead": ("Lead", "铅"),
}


@dataclass(frozen=True)
class PyramidCuts:
    """The share of members in each of the top three tiers; lead takes the rest."""

    platinum: float = 0.05
    gold: float = 0.15
    iron: float = 0.30

    def __post_init__(self) -> None:
        """Reject negative widths or widths that add up to more than every member."""
        widths = (self.platinum, self.gold, self.iron)
        if any(w < 0 for w in widths) or sum(widths) > 1:
            raise ValueError("PyramidCuts: shares must be ≥ 0 and add up to at most 1")

    def bounds(self) -> tuple[float, float, float]:
        """The cumulative member shares at which platinum, gold and iron end."""
        return (self.platinum, self.platinum + self.gold, self.platinum + self.gold + self.iron)


def profit_pyramid(
    lines: pl.DataFrame,
    *,
    as_of: datetime,
    window_days: int = 365,
    cuts: PyramidCuts | None = None,
) -> pl.DataFrame:
    """Revenue, cost, gross profit, profit rank and pyramid tier of every member in the window."""
    platinum, gold, iron = (cuts or PyramidCuts()).bounds()
    epoch_us(as_of)
    start = as_of - timedelta(days=window_days)
    frame = require(lines, LINES, "lines")
    known = pl.col("cost").is_not_null()
    per_member = (
        frame.lazy()
        .filter(
            pl.col("member_id").is_not_null() & (pl.col("at") >= start) & (pl.col("at") < as_of)
        )
        .group_by("member_id")
        .agg(
            money_units("amount").sum().alias("revenue_units"),
            money_units("cost").sum().alias("cost_units"),
            pl.when(known).then(money_units("amount") - money_units("cost")).sum().alias("units"),
        )
        .with_columns(
            (pl.col("revenue_units") * PER_UNIT).alias("revenue"),
            (pl.col("cost_units") * PER_UNIT).alias("cost"),
            (pl.col("units") * PER_UNIT).alias("profit"),
        )
        .sort(["units", "member_id"], descending=[True, False])
        .with_columns(pl.int_range(1, pl.len() + 1, dtype=pl.Int64).alias("profit_rank"))
        .with_columns(
            (pl.col("profit_rank") * (1.0 / pl.len().cast(pl.Float64))).alias("member_share"),
            (pl.col("units") < 0).alias("loss_making"),
        )
        .with_columns(
            pl.when(pl.col("loss_making"))
            .then(pl.lit("lead"))
            .when(pl.col("member_share") <= platinum)
            .then(pl.lit("platinum"))
            .when(pl.col("member_share") <= gold)
            .then(pl.lit("gold"))
            .when(pl.col("member_share") <= iron)
            .then(pl.lit("iron"))
            .otherwise(pl.lit("lead"))
            .alias("tier")
        )
    )
    return per_member.select(list(PYRAMID)).collect().cast(pl.Schema(PYRAMID))


def _cumulative(pyramid: pl.DataFrame) -> tuple[np.ndarray, float]:
    """Cumulative profit of the top k members (k = 0 … n) and the total profit."""
    frame = require(pyramid, {"profit_rank": pl.Int64(), "profit": pl.Float64()}, "pyramid")
    profits = frame.sort("profit_rank")["profit"].to_numpy()
    cumulative = np.concatenate([[0.0], np.cumsum(profits)])
    return cumulative, float(cumulative[-1])


def _share_at(cumulative: np.ndarray, total: float, shares: np.ndarray) -> np.ndarray:
    """Profit share of the top ``shares`` of members, interpolating between whole members."""
    n = len(cumulative) - 1
    if n == 0 or total <= 0:
        return np.full(len(shares), np.nan)
    members = np.clip(shares, 0.0, 1.0) * n
    curve = np.interp(members, np.arange(n + 1, dtype=float), cumulative) / total
    return np.asarray(curve, dtype=np.float64)


def pareto_curve(pyramid: pl.DataFrame, points: int = 101) -> pl.DataFrame:
    """The Pareto (whale) curve: share of total profit from the top x of members, x = 0 … 1.

    With loss-makers the curve rises above 1 before falling back to 1 at x = 1 (the "whale
    curve" of activity-based costing); with no positive total profit the shares are null.
    """
    if points < 2:
        raise ValueError("pareto_curve: at least two points")
    cumulative, total = _cumulative(pyramid)
    shares = np.linspace(0.0, 1.0, points)
    profit_share = _share_at(cumulative, total, shares)
    return pl.DataFrame(
        {"member_share": shares, "profit_share": profit_share}, schema=dict(PARETO)
    ).with_columns(pl.col("profit_share").fill_nan(None))


def top_share(pyramid: pl.DataFrame, share: float = 0.2) -> float:
    """The share of total profit brought by the top ``share`` of members (NaN if total ≤ 0)."""
    cumulative, total = _cumulative(pyramid)
    return float(_share_at(cumulative, total, np.array([share]))[0])
