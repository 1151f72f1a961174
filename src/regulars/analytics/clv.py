"""Customer lifetime value: BG/NBD for how often, Gamma-Gamma for how much.

:func:`clv_summary` turns transactions into the per-customer summary both models take
(frequency, recency, T, monetary value); :func:`clv_scores` fits them and scores every
member with P(alive), expected purchases, expected spend and CLV. The models themselves
live in :mod:`regulars.analytics.bgnbd` and :mod:`regulars.analytics.gamma_gamma` and are
re-exported here. The summary is small (one row per customer), so fitting runs on the
driver even when the summary came from Spark (:mod:`regulars.analytics.engines.spark_clv`).

Conventions (those of the papers and of the ``lifetimes`` package):

* *frequency* is the number of repeat purchases: distinct purchase grains minus one;
* *recency* is the time from the first to the last purchase, *T* from the first purchase to
  the end of observation, both in periods of ``period_days``;
* *monetary_value* is the mean value of the repeat purchases, 0 for a customer without one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

import numpy as np
import polars as pl
from numpy.typing import ArrayLike

from regulars.analytics.bgnbd import (
    BgNbdParams,
    bgnbd_fit,
    bgnbd_log_likelihood,
    expected_purchases,
    expected_purchases_new,
    p_alive,
)
from regulars.analytics.frames import UTC_TIME, require
from regulars.analytics.gamma_gamma import (
    GammaGammaParams,
    expected_average_value,
    gamma_gamma_fit,
    gamma_gamma_log_likelihood,
)
from regulars.analytics.mle import Array, as_array

__all__ = [
    "SUMMARY",
    "BgNbdParams",
    "ClvFit",
    "GammaGammaParams",
    "Grain",
    "bgnbd_fit",
    "bgnbd_log_likelihood",
    "clv",
    "clv_scores",
    "clv_summary",
    "end_instant",
    "expected_average_value",
    "expected_purchases",
    "expected_purchases_new",
    "gamma_gamma_fit",
    "gamma_gamma_log_likelihood",
    "grain_of",
    "p_alive",
]

#: The per-customer summary that :func:`clv_scores` takes.
SUMMARY: Mapping[str, pl.DataType] = {
    "member_id": pl.Int64(),
    "frequency": pl.Int64(),
    "recency": pl.Float64(),
    "T": pl.Float64(),
    "monetary_value": pl.Float64(),
}

DAY_US = 86_400_000_000
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
#: Grains are counted from Monday 1969-12-29 00:00 UTC, so 7-day grains are ISO weeks.
GRAIN_ORIGIN_US = -3 * DAY_US
#: A month of the CLV sum, in days (a Gregorian year over twelve).
MONTH_DAYS = 365.25 / 12


@dataclass(frozen=True)
class ClvFit:
    """What :func:`clv_scores` fitted, and which documented fallbacks it had to use."""

    bg: BgNbdParams | None
    gg: GammaGammaParams | None
    fallbacks: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, float]:
        """The fitted parameters flat (JSON-ready); a model that was not fitted is absent."""
        out: dict[str, float] = {}
        if self.bg is not None:
            bg = self.bg
            out |= {"r": bg.r, "alpha": bg.alpha, "a": bg.a, "b": bg.b}
            out |= {"bg_log_likelihood": bg.log_likelihood, "bg_customers": float(bg.n)}
        if self.gg is not None:
            gg = self.gg
            out |= {"p": gg.p, "q": gg.q, "v": gg.v}
            out |= {"gg_log_likelihood": gg.log_likelihood, "gg_customers": float(gg.n)}
        return out


def end_instant(observation_end: datetime | date) -> datetime:
    """The last instant observed: the end of the day for a date, the time itself (UTC) else."""
    if isinstance(observation_end, datetime):
        if observation_end.tzinfo is None:
            return observation_end.replace(tzinfo=UTC)
        return observation_end.astimezone(UTC)
    return datetime.combine(observation_end, time.max, tzinfo=UTC)


@dataclass(frozen=True)
class Grain:
    """How a summary buckets time, shared by the local and the Spark engine.

    Grain k covers [origin + k·length, origin + (k+1)·length); the index of an instant is
    ``(us + offset_us) // length_us`` with ``us`` its microseconds since the epoch.
    """

    length_us: int
    offset_us: int
    end_us: int  # the last observed instant
    end_index: int  # the grain it falls in
    period_us: float  # a period; a time is (grains × length_us) / period_us periods


def grain_of(
    observation_end: datetime | date, *, period_days: float, grain_days: float | None
) -> Grain:
    """The time buckets of a summary: ``grain_days`` long (default one period), ISO-aligned."""
    length_us = round((period_days if grain_days is None else grain_days) * DAY_US)
    if length_us <= 0 or period_days <= 0:
        raise ValueError("period_days and grain_days must be positive")
    end_us = (end_instant(observation_end) - EPOCH) // timedelta(microseconds=1)
    offset_us = -GRAIN_ORIGIN_US
    return Grain(
        length_us=length_us,
        offset_us=offset_us,
        end_us=end_us,
        end_index=(end_us + offset_us) // length_us,
        period_us=period_days * DAY_US,
    )


def clv_summary(
    transactions: pl.DataFrame,
    *,
    observation_end: datetime | date,
    period_days: float = 1.0,
    grain_days: float | None = None,
    customer_col: str = "member_id",
    time_col: str = "at",
    value_col: str = "amount",
) -> pl.DataFrame:
    """Per customer: frequency, recency, T (in periods) and mean repeat value up to the end.

    Purchases in the same grain (``grain_days``, by default one period) count once and their
    values are summed. The published CDNOW summaries count distinct *days* but measure time
    in *weeks*: ``grain_days=1, period_days=7``. Rows after ``observation_end`` (a date means
    its whole day, UTC), rows without a customer and rows with a negative value (returns:
    BG/NBD counts purchase occasions and Gamma-Gamma spend per purchase) are left out.
    """
    grain = grain_of(observation_end, period_days=period_days, grain_days=grain_days)
    columns = {
        customer_col: transactions.schema.get(customer_col, pl.Int64()),
        time_col: UTC_TIME,
        value_col: pl.Float64(),
    }
    frame = require(transactions, columns, "transactions")
    cust, value, us = pl.col(customer_col), pl.col(value_col), pl.col(time_col).dt.epoch("us")
    per_grain = (
        frame.filter(cust.is_not_null() & (value >= 0) & (us <= grain.end_us))
        .group_by(cust, ((us + grain.offset_us) // grain.length_us).alias("grain"))
        .agg(value.sum())
    )
    first = pl.col("grain").min()
    # Integer microseconds over the period: exact, and the same operations as on Spark.
    length, period = pl.lit(grain.length_us, pl.Int64), pl.lit(grain.period_us, pl.Float64)
    return (
        per_grain.group_by(cust)
        .agg(
            (pl.len() - 1).cast(pl.Int64).alias("frequency"),
            ((pl.col("grain").max() - first) * length / period).alias("recency"),
            ((grain.end_index - first) * length / period).alias("T"),
            value.filter(pl.col("grain") != first).mean().fill_null(0.0).alias("monetary_value"),
        )
        .sort(customer_col)
    )


def clv(
    bg: BgNbdParams,
    gg: GammaGammaParams | None,
    frequency: ArrayLike,
    recency: ArrayLike,
    T: ArrayLike,  # noqa: N803 - the papers' name
    monetary_value: ArrayLike,
    *,
    months: int = 12,
    period_days: float = 1.0,
    monthly_discount_rate: float = 0.01,
    average_value: ArrayLike | None = None,
) -> Array:
    """Discounted value of each customer's next ``months``: Σ_i ΔE[purchases in month i] ·
    E[spend] / (1+d)^i, a month being 365.25/12 days.

    ``average_value`` replaces the Gamma-Gamma expectation (``gg`` may then be None).
    """
    x, tx, big_t, m = np.broadcast_arrays(
        as_array(frequency), as_array(recency), as_array(T), as_array(monetary_value)
    )
    if average_value is None:
        if gg is None:
            raise ValueError("clv needs Gamma-Gamma parameters or an average_value")
        spend = expected_average_value(gg, x, m)
    else:
        spend = np.broadcast_to(as_array(average_value), x.shape)
    steps = np.arange(months + 1, dtype=np.float64) * (MONTH_DAYS / period_days)
    cumulative = expected_purchases(bg, steps[None, :], x[:, None], tx[:, None], big_t[:, None])
    per_month = np.diff(cumulative, axis=1)
    discount = (1 + monthly_discount_rate) ** -np.arange(1, months + 1, dtype=np.float64)
    return np.asarray(spend * (per_month @ discount), dtype=np.float64)


def _spend_fallback(x: Array, m: Array) -> Array:
    """Expected spend without Gamma-Gamma: the customer's own mean, else the repeaters' mean."""
    repeaters = m[(x > 0) & (m > 0)]
    population = float(repeaters.mean()) if repeaters.size else 0.0
    return np.where(x > 0, m, population)


def clv_scores(
    summary: pl.DataFrame,
    *,
    horizon_days: float = 90,
    months: int = 12,
    monthly_discount_rate: float = 0.01,
    period_days: float = 1.0,
) -> tuple[pl.DataFrame, ClvFit]:
    """Fit both models on ``summary`` and score every member: P(alive), purchases, value, CLV.

    ``summary`` is :func:`clv_summary`'s output with times in periods of ``period_days``.
    Fallbacks, listed in ``ClvFit.fallbacks``:

    * ``bgnbd:no_repeat_purchases`` — nobody bought twice, so the maximum-likelihood purchase
      rate is zero: p_alive 1, expected purchases 0, CLV 0;
    * ``gamma_gamma:too_few_repeaters`` (fewer than two) or ``gamma_gamma:q_le_1`` (no finite
      mean) — expected spend is the member's own mean repeat spend, or the mean over members
      with a repeat purchase for those without one.
    """
    frame = require(summary, SUMMARY, "summary")
    x = frame["frequency"].to_numpy().astype(np.float64)
    tx = frame["recency"].to_numpy().astype(np.float64)
    big_t = frame["T"].to_numpy().astype(np.float64)
    m = frame["monetary_value"].to_numpy().astype(np.float64)
    fallbacks: list[str] = []
    bg: BgNbdParams | None = None
    gg: GammaGammaParams | None = None
    if frame.height and np.any(x > 0):
        bg = bgnbd_fit(x, tx, big_t)
    elif frame.height:
        fallbacks.append("bgnbd:no_repeat_purchases")
    if int(np.sum((x > 0) & (m > 0))) >= 2:
        gg = gamma_gamma_fit(x, m)
        if gg.q <= 1:
            fallbacks.append("gamma_gamma:q_le_1")
    elif frame.height:
        fallbacks.append("gamma_gamma:too_few_repeaters")
    spend = (
        expected_average_value(gg, x, m) if gg is not None and gg.q > 1 else _spend_fallback(x, m)
    )
    if bg is None:
        alive, purchases, value = np.ones_like(x), np.zeros_like(x), np.zeros_like(x)
    else:
        alive = p_alive(bg, x, tx, big_t)
        purchases = expected_purchases(bg, horizon_days / period_days, x, tx, big_t)
        value = clv(
            bg, gg, x, tx, big_t, m, months=months, period_days=period_days,
            monthly_discount_rate=monthly_discount_rate, average_value=spend,
        )  # fmt: skip
    scores = frame.with_columns(
        pl.Series("p_alive", alive, dtype=pl.Float64),
        pl.Series("expected_purchases", purchases, dtype=pl.Float64),
        pl.Series("expected_value", spend, dtype=pl.Float64),
        pl.Series("clv", value, dtype=pl.Float64),
    )
    return scores, ClvFit(bg, gg, tuple(fallbacks))
