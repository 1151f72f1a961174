"""The Spark twins of RFM and the value pyramid, and the Spark tables' column check.

Each function takes PySpark DataFrames with the columns of :mod:`regulars.analytics.frames`,
has the signature of its local twin otherwise, and returns a Polars DataFrame (collected
through Arrow) with exactly the local twin's columns and order. The arithmetic is written
to match the local engine operation for operation (integer microseconds for durations,
minimum ranks, money summed as integer ten-thousandths), so the results agree exactly, float
columns included; the engines test still allows 1e-9 relative on floats in case a Spark
version reorders an expression.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta

import polars as pl
from pyspark.sql import Column, Window
from pyspark.sql import DataFrame as SparkFrame
from pyspark.sql import functions as F  # noqa: N812 - the name every Spark reader expects
from pyspark.sql import types as T  # noqa: N812 - as in the Spark documentation

from regulars.analytics.frames import LINES, ColumnError
from regulars.analytics.pyramid import PYRAMID, PyramidCuts
from regulars.analytics.rfm import (
    DAY_US,
    MONEY_SCALE,
    PER_UNIT,
    RFM,
    RfmCuts,
    epoch_us,
    segment_codes,
)

__all__ = ["collect", "idiv", "profit_pyramid", "require_spark", "rfm_scores", "visits"]

_TYPES: Mapping[type[pl.DataType], T.DataType] = {
    pl.Int64: T.LongType(),
    pl.Int8: T.ByteType(),
    pl.Float64: T.DoubleType(),
    pl.String: T.StringType(),
    pl.Boolean: T.BooleanType(),
    pl.Datetime: T.TimestampType(),
    pl.Date: T.DateType(),
}


def require_spark(frame: SparkFrame, columns: Mapping[str, pl.DataType], name: str) -> SparkFrame:
    """The Spark twin of ``frames.require``: check, cast and trim the columns of ``frame``."""
    missing = [column for column in columns if column not in frame.columns]
    if missing:
        raise ColumnError(f"{name}: missing column(s) {', '.join(missing)}")
    return frame.select(
        [F.col(column).cast(_TYPES[type(dtype)]).alias(column) for column, dtype in columns.items()]
    )


def collect(frame: SparkFrame, schema: Mapping[str, pl.DataType]) -> pl.DataFrame:
    """Collect ``frame`` through Arrow into Polars with exactly ``schema``."""
    table = frame.select(list(schema)).toArrow()
    result = pl.from_arrow(table)
    assert isinstance(result, pl.DataFrame)
    return result.cast(pl.Schema(schema))


def idiv(numerator: Column, denominator: Column) -> Column:
    """Integer division rounded down, for non-negative longs (Spark's ``div``)."""
    return F.floor(numerator / denominator).cast("long")


def micros(column: str) -> Column:
    """A timestamp column as integer microseconds since the epoch."""
    return F.unix_micros(F.col(column))


def visits(lines: SparkFrame, *, as_of: datetime) -> SparkFrame:
    """One row per visit before ``as_of``: member_id, receipt_id and its time ``at``."""
    frame = require_spark(lines, LINES, "lines")
    return (
        frame.where(F.col("member_id").isNotNull() & (F.col("at") < F.lit(as_of)))
        .groupBy("member_id", "receipt_id")
        .agg(
            F.min("at").alias("at"),
            F.max((F.col("quantity") > 0).cast("int")).alias("sold"),
        )
        .where(F.col("sold") == 1)
        .select("member_id", "receipt_id", "at")
    )


def _quintile(key: Column, n: Column) -> Column:
    """Score 1 … 5 from the minimum rank of ``key`` (ascending) among ``n`` members."""
    rank = F.rank().over(Window.orderBy(key))
    return (idiv(5 * (rank - 1), n) + 1).cast("byte")


def _fixed_up(value: Column, cuts: Sequence[float]) -> Column:
    """Score 1 + the number of thresholds at or below ``value``."""
    score = F.lit(1)
    for cut in cuts:
        score = score + (value >= F.lit(cut)).cast("int")
    return score.cast("byte")


def _fixed_down(value: Column, cuts: Sequence[float]) -> Column:
    """Score 5 − the number of thresholds strictly below ``value`` (for recency)."""
    score = F.lit(5)
    for cut in cuts:
        score = score - (value > F.lit(cut)).cast("int")
    return score.cast("byte")


def money_units(column: str) -> Column:
    """A money column in integer ten-thousandths (Spark's round is half away from zero)."""
    return F.round(F.col(column) * MONEY_SCALE, 0).cast("long")


def rfm_scores(lines: SparkFrame, *, as_of: datetime, cuts: RfmCuts | None = None) -> pl.DataFrame:
    """RFM values, 1–5 scores and the named segment (Spark twin of ``rfm.rfm_scores``)."""
    cuts = cuts or RfmCuts()
    as_us = epoch_us(as_of)
    # One pass: receipts first (a visit if any line sold), then members.
    per_member = (
        require_spark(lines, LINES, "lines")
        .where(F.col("member_id").isNotNull() & (F.col("at") < F.lit(as_of)))
        .groupBy("member_id", "receipt_id")
        .agg(
            F.min("at").alias("at"),
            F.max((F.col("quantity") > 0).cast("int")).alias("sold"),
            F.sum(money_units("amount")).alias("units"),
        )
        .groupBy("member_id")
        .agg(
            F.max(F.when(F.col("sold") == 1, F.col("at"))).alias("last"),
            F.sum("sold").cast("long").alias("frequency"),
            F.sum("units").alias("units"),
        )
        .where(F.col("frequency") > 0)
        .withColumn("recency_days", idiv(F.lit(as_us) - micros("last"), F.lit(DAY_US)))
        .withColumn("monetary", F.col("units") * F.lit(PER_UNIT))
        .withColumn("n", F.count(F.lit(1)).over(Window.partitionBy()))
    )
    n = F.col("n")
    r_score = (
        _fixed_down(F.col("recency_days"), cuts.recency)
        if cuts.recency is not None
        else _quintile(F.desc("recency_days"), n)
    )
    f_score = (
        _fixed_up(F.col("frequency"), cuts.frequency)
        if cuts.frequency is not None
        else _quintile(F.col("frequency"), n)
    )
    m_score = (
        _fixed_up(F.col("monetary"), cuts.monetary)
        if cuts.monetary is not None
        else _quintile(F.col("units"), n)
    )
    codes = segment_codes()
    grid = F.array(*[F.lit(codes[cell]) for cell in range(25)])
    fm = idiv(F.col("f_score").cast("long") + F.col("m_score").cast("long") + 1, F.lit(2))
    cell = 5 * (F.col("r_score").cast("long") - 1) + (fm - 1)
    scored = (
        per_member.withColumn("r_score", r_score)
        .withColumn("f_score", f_score)
        .withColumn("m_score", m_score)
        .withColumn("rfm_segment", F.element_at(grid, (cell + 1).cast("int")))
    )
    return collect(scored, RFM).sort("member_id")


def profit_pyramid(
    lines: SparkFrame,
    *,
    as_of: datetime,
    window_days: int = 365,
    cuts: PyramidCuts | None = None,
) -> pl.DataFrame:
    """Revenue, cost, profit, rank and tier per member (twin of ``pyramid.profit_pyramid``)."""
    platinum, gold, iron = (cuts or PyramidCuts()).bounds()
    start = as_of - timedelta(days=window_days)
    epoch_us(as_of)
    frame = require_spark(lines, LINES, "lines")
    known = F.col("cost").isNotNull()
    per_member = (
        frame.where(
            F.col("member_id").isNotNull()
            & (F.col("at") >= F.lit(start))
            & (F.col("at") < F.lit(as_of))
        )
        .groupBy("member_id")
        .agg(
            F.sum(money_units("amount")).alias("revenue_units"),
            F.coalesce(F.sum(money_units("cost")), F.lit(0)).alias("cost_units"),
            F.coalesce(
                F.sum(F.when(known, money_units("amount") - money_units("cost"))), F.lit(0)
            ).alias("units"),
        )
        .withColumn("revenue", F.col("revenue_units") * F.lit(PER_UNIT))
        .withColumn("cost", F.col("cost_units") * F.lit(PER_UNIT))
        .withColumn("profit", F.col("units") * F.lit(PER_UNIT))
        .withColumn(
            "profit_rank",
            F.row_number().over(Window.orderBy(F.desc("units"), F.asc("member_id"))).cast("long"),
        )
        .withColumn("n", F.count(F.lit(1)).over(Window.partitionBy()))
        .withColumn("member_share", F.col("profit_rank") * (F.lit(1.0) / F.col("n")))
        .withColumn("loss_making", F.col("units") < 0)
        .withColumn(
            "tier",
            F.when(F.col("loss_making"), "lead")
            .when(F.col("member_share") <= F.lit(platinum), "platinum")
            .when(F.col("member_share") <= F.lit(gold), "gold")
            .when(F.col("member_share") <= F.lit(iron), "iron")
            .otherwise("lead"),
        )
    )
    return collect(per_member, PYRAMID).sort("profit_rank")
