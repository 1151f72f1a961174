"""RFM: recency, frequency and monetary scores per member, and the named segments.

A *visit* is a distinct receipt of a member with at least one sold line (quantity > 0): a
receipt holding only returns is not a visit, and anonymous lines (``member_id`` null) are
ignored. Only lines strictly before ``as_of`` count.

* ``recency_days`` — whole days (floored) from the member's last visit to ``as_of``.
* ``frequency`` — the number of visits.
* ``monetary`` — the net amount of all the member's lines, returns included (a return lowers
  the spend of the period it happened in).

Scores run from 1 to 5, 5 best. By default they are quintiles of the *minimum rank*: members
are ordered by the value (recency descending, so the longest absent rank first; frequency and
monetary ascending), equal values share the lowest rank ``r`` of their group, and the score is
``1 + ⌊5 (r − 1) / n⌋``. Equal values therefore always get equal scores, whatever the engine
or row order, and no tie-breaking column is needed; a heavily tied value (say, everyone seen
once) takes the score of its lowest member and the next value may skip a score.

Money is summed as integer ten-thousandths (each line's amount rounded half away from zero to
1/10000, see :func:`money_units`): integer sums are exact in any order, so both engines
produce the same ``monetary`` to the bit and rank it identically.

Explicit cut points (:class:`RfmCuts`) replace the quintiles of a dimension by four fixed
thresholds, as asked in openretailscience issue #242: frequency and monetary score
``1 + #{t : value ≥ t}``, recency scores ``5 − #{t : days > t}``.

Named segments come from R and FM = ⌊(F + M + 1) / 2⌋ (the mean of F and M, halves rounded
up) on the grid :data:`SEGMENT_GRID`, in the spirit of the usual R × F marketing grids:
recent and valuable members are champions; valuable members drifting away are at risk or
"can't lose"; the least recent and least valuable are lost.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import pairwise

import polars as pl

from regulars.analytics.frames import LINES, require

__all__ = [
    "DAY_US",
    "EPOCH",
    "MONEY_SCALE",
    "PER_DAY",
    "PER_UNIT",
    "RFM",
    "SEGMENT_GRID",
    "SEGMENT_NAMES",
    "RfmCuts",
    "epoch_us",
    "money_units",
    "rfm_scores",
    "segment_codes",
    "visits",
]

#: Microseconds in a day: durations are computed on integer microseconds in both engines.
DAY_US = 86_400_000_000

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
#: Money is summed in integer units of 1/MONEY_SCALE.
MONEY_SCALE = 10_000
# Polars turns a division by a constant into a multiplication by its reciprocal; both engines
# write that multiplication out, so that they compute the same bits.
#: Days per microsecond and money per unit, to multiply by.
PER_DAY = 1.0 / DAY_US
PER_UNIT = 1.0 / MONEY_SCALE

#: The output columns of :func:`rfm_scores`.
RFM: Mapping[str, pl.DataType] = {
    "member_id": pl.Int64(),
    "recency_days": pl.Int64(),
    "frequency": pl.Int64(),
    "monetary": pl.Float64(),
    "r_score": pl.Int8(),
    "f_score": pl.Int8(),
    "m_score": pl.Int8(),
    "rfm_segment": pl.String(),
}

#: Segment code → (English, 中文) names; the lead copies them into the catalogue.
SEGMENT_NAMES: Mapping[str, tuple[str, str]] = {
    "champions": ("Champions", "冠军客户"),
    "loyal": ("Loyal", "忠诚客户"),
    "potential_loyalist": ("Potential loyalists", "潜在忠诚客户"),
    "new_customers": ("New customers", "新客户"),
    "promising": ("Promising", "有潜力客户"),
    "need_attention": ("Need attention", "需要关注"),
    "about_to_sleep": ("About to sleep", "即将沉睡"),
    "at_risk": ("At risk", "潜在流失"),
    "cant_lose": ("Can't lose them", "不能失去的客户"),
    "hibernating": ("Hibernating", "休眠客户"),
    "lost": ("Lost", "已流失"),
}

#: Rows R = 5 … 1, columns FM = 1 … 5.
SEGMENT_GRID: Mapping[int, tuple[str, str, str, str, str]] = {
    5: ("new_customers", "potential_loyalist", "potential_loyalist", "champions", "champions"),
    4: ("promising", "potential_loyalist", "potential_loyalist", "loyal", "champions"),
    3: ("about_to_sleep", "about_to_sleep", "need_attention", "loyal", "loyal"),
    2: ("hibernating", "hibernating", "at_risk", "at_risk", "cant_lose"),
    1: ("lost", "lost", "at_risk", "cant_lose", "cant_lose"),
}


@dataclass(frozen=True)
class RfmCuts:
    """Fixed thresholds per dimension (four ascending values each); None keeps quintiles.

    ``recency``: days; at most ``recency[0]`` days scores 5, more than ``recency[3]`` scores 1.
    ``frequency`` / ``monetary``: below ``[0]`` scores 1, at least ``[3]`` scores 5.
    """

    recency: Sequence[float] | None = None
    frequency: Sequence[float] | None = None
    monetary: Sequence[float] | None = None

    def __post_init__(self) -> None:
        """Reject threshold lists that are not four strictly ascending numbers."""
        for name in ("recency", "frequency", "monetary"):
            cuts = getattr(self, name)
            if cuts is None:
                continue
            values = list(cuts)
            if len(values) != 4 or any(b <= a for a, b in pairwise(values)):
                raise ValueError(f"RfmCuts.{name}: four strictly ascending thresholds expected")


def epoch_us(as_of: datetime) -> int:
    """``as_of`` as integer microseconds since the epoch; a naive time is refused."""
    if as_of.tzinfo is None:
        raise ValueError("as_of must be timezone-aware (UTC)")
    return (as_of - EPOCH) // timedelta(microseconds=1)


def money_units(column: str) -> pl.Expr:
    """A money column in integer ten-thousandths (half away from zero), to be summed exactly."""
    return (pl.col(column) * MONEY_SCALE).round(0, mode="half_away_from_zero").cast(pl.Int64)


def segment_codes() -> dict[int, str]:
    """The segment of each grid cell, keyed ``5 × (R − 1) + (FM − 1)`` (0 … 24)."""
    return {
        5 * (r - 1) + (fm - 1): code
        for r, row in SEGMENT_GRID.items()
        for fm, code in enumerate(row, start=1)
    }


def visits(lines: pl.DataFrame, *, as_of: datetime) -> pl.DataFrame:
    """One row per visit before ``as_of``: member_id, receipt_id and its time ``at``."""
    epoch_us(as_of)
    frame = require(lines, LINES, "lines")
    return (
        frame.lazy()
        .filter(pl.col("member_id").is_not_null() & (pl.col("at") < as_of))
        .group_by("member_id", "receipt_id")
        .agg(pl.col("at").min(), (pl.col("quantity") > 0).any().alias("sold"))
        .filter(pl.col("sold"))
        .select("member_id", "receipt_id", "at")
        .collect()
    )


def _quintile(key: pl.Expr, n: pl.Expr) -> pl.Expr:
    """Score 1 … 5 from the minimum rank of ``key`` (ascending) among ``n`` members."""
    rank = key.rank("min").cast(pl.Int64)
    return ((5 * (rank - 1)) // n + 1).cast(pl.Int8)


def _fixed_up(value: pl.Expr, cuts: Sequence[float]) -> pl.Expr:
    """Score 1 + the number of thresholds at or below ``value``."""
    score: pl.Expr = pl.lit(1, dtype=pl.Int64)
    for cut in cuts:
        score = score + (value >= cut).cast(pl.Int64)
    return score.cast(pl.Int8)


def _fixed_down(value: pl.Expr, cuts: Sequence[float]) -> pl.Expr:
    """Score 5 − the number of thresholds strictly below ``value`` (for recency)."""
    score: pl.Expr = pl.lit(5, dtype=pl.Int64)
    for cut in cuts:
        score = score - (value > cut).cast(pl.Int64)
    return score.cast(pl.Int8)


def rfm_scores(
    lines: pl.DataFrame, *, as_of: datetime, cuts: RfmCuts | None = None
) -> pl.DataFrame:
    """RFM values, 1–5 scores and the named segment of every member with a visit before as_of."""
    cuts = cuts or RfmCuts()
    epoch_us(as_of)
    # One pass: receipts first (a visit if any line sold), then members.
    per_member = (
        require(lines, LINES, "lines")
        .lazy()
        .filter(pl.col("member_id").is_not_null() & (pl.col("at") < as_of))
        .group_by("member_id", "receipt_id")
        .agg(
            pl.col("at").min(),
            (pl.col("quantity") > 0).any().alias("sold"),
            money_units("amount").sum().alias("units"),
        )
        .group_by("member_id")
        .agg(
            pl.col("at").filter(pl.col("sold")).max().alias("last"),
            pl.col("sold").cast(pl.Int64).sum().alias("frequency"),
            pl.col("units").sum(),
        )
        .filter(pl.col("frequency") > 0)
        .with_columns(
            (((pl.lit(as_of) - pl.col("last")).dt.total_microseconds()) // DAY_US)
            .cast(pl.Int64)
            .alias("recency_days"),
            (pl.col("units") * PER_UNIT).alias("monetary"),
        )
    )
    n = pl.len().cast(pl.Int64)
    r_score = (
        _fixed_down(pl.col("recency_days"), cuts.recency)
        if cuts.recency is not None
        else _quintile(-pl.col("recency_days"), n)
    )
    f_score = (
        _fixed_up(pl.col("frequency"), cuts.frequency)
        if cuts.frequency is not None
        else _quintile(pl.col("frequency"), n)
    )
    m_score = (
        _fixed_up(pl.col("monetary"), cuts.monetary)
        if cuts.monetary is not None
        else _quintile(pl.col("units"), n)
    )
    cell = 5 * (pl.col("r_score").cast(pl.Int64) - 1) + (
        (pl.col("f_score").cast(pl.Int64) + pl.col("m_score").cast(pl.Int64) + 1) // 2 - 1
    )
    return (
        per_member.with_columns(
            r_score.alias("r_score"), f_score.alias("f_score"), m_score.alias("m_score")
        )
        .with_columns(
            cell.replace_strict(segment_codes(), return_dtype=pl.String()).alias("rfm_segment")
        )
        .select(list(RFM))
        .sort("member_id")
        .collect()
        .cast(pl.Schema(RFM))
    )
