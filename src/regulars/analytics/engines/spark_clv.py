"""The CLV summary on Spark: the twin of :func:`regulars.analytics.clv.clv_summary`.

Spark reduces a chain's whole history of lines to one row per customer (frequency, recency,
T, monetary value). Only that summary comes back to the driver, where the models are fitted
by :func:`regulars.analytics.clv.clv_scores`: the fit needs a few thousand distinct summary
rows even for millions of customers, so distributing it would only add overhead.

Times are bucketed exactly as the local engine does (integer microseconds since the epoch,
the same :class:`~regulars.analytics.clv.Grain`), so the two engines agree on frequency,
recency and T exactly and on the monetary value up to the order of floating-point sums.
"""

from __future__ import annotations

from datetime import date, datetime

import polars as pl
from pyspark.sql import DataFrame as SparkFrame
from pyspark.sql import Window
from pyspark.sql import functions as F  # noqa: N812 - the name every Spark reader expects

from regulars.analytics.clv import grain_of
from regulars.analytics.frames import ColumnError

__all__ = ["clv_summary_spark"]


def clv_summary_spark(
    lines: SparkFrame,
    *,
    observation_end: datetime | date,
    period_days: float = 1.0,
    grain_days: float | None = None,
    customer_col: str = "member_id",
    time_col: str = "at",
    value_col: str = "amount",
) -> pl.DataFrame:
    """Per customer: frequency, recency, T and mean repeat value, computed by Spark.

    Same arguments and rules as :func:`~regulars.analytics.clv.clv_summary`; the result is
    collected to the driver (one row per customer), where the models are fitted. A date or
    naive time column is read in the session's time zone, which ``spark_session`` sets to UTC.
    """
    missing = [c for c in (customer_col, time_col, value_col) if c not in lines.columns]
    if missing:
        raise ColumnError(f"transactions: missing column(s) {', '.join(missing)}")
    grain = grain_of(observation_end, period_days=period_days, grain_days=grain_days)
    us = F.unix_micros(F.col(time_col).cast("timestamp"))
    shifted = us + F.lit(grain.offset_us)
    # Subtracting the remainder first makes the division exact, so the index is a floor
    # division on integers, as in Polars (pmod keeps it right before 1970 too).
    index = ((shifted - F.pmod(shifted, F.lit(grain.length_us))) / grain.length_us).cast("long")
    value = F.col(value_col).cast("double")
    length, period = F.lit(grain.length_us).cast("long"), F.lit(grain.period_us).cast("double")
    per_grain = (
        lines.where(F.col(customer_col).isNotNull() & (value >= 0) & (us <= grain.end_us))
        .groupBy(F.col(customer_col), index.alias("grain"))
        .agg(F.sum(value).alias("value"))
        .withColumn("first", F.min("grain").over(Window.partitionBy(customer_col)))
    )
    summary = per_grain.groupBy(customer_col).agg(
        (F.count(F.lit(1)) - 1).cast("long").alias("frequency"),
        ((F.max("grain") - F.min("first")) * length / period).alias("recency"),
        ((F.lit(grain.end_index) - F.min("first")) * length / period).alias("T"),
        F.coalesce(
            F.avg(F.when(F.col("grain") != F.col("first"), F.col("value"))), F.lit(0.0)
        ).alias("monetary_value"),
    )
    collected = pl.from_arrow(summary.toArrow())
    if not isinstance(collected, pl.DataFrame):
        collected = collected.to_frame()
    return collected.with_columns(
        pl.col("frequency").cast(pl.Int64),
        pl.col("recency", "T", "monetary_value").cast(pl.Float64),
    ).sort(customer_col)
