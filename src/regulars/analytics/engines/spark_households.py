"""The Spark twins of churn status, churn trend and household life stage.

Same signatures as :mod:`regulars.analytics.churn` and :mod:`regulars.analytics.lifestage`
except that the tables are PySpark DataFrames; the results are Polars DataFrames with the
local twins' columns. The rhythm quantile is computed from the sorted gap list with the
local engine's formula, so statuses agree exactly.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from functools import reduce

import polars as pl
from pyspark.sql import Column, Window
from pyspark.sql import DataFrame as SparkFrame
from pyspark.sql import functions as F  # noqa: N812 - the name every Spark reader expects

from regulars.analytics.churn import (
    CHURN,
    DEFAULT_RULES,
    ChurnRules,
    month_starts,
    trend_rows,
)
from regulars.analytics.engines.spark_segments import collect, micros, require_spark, visits
from regulars.analytics.frames import LINES, MEMBERS, PRODUCTS, UTC_TIME
from regulars.analytics.lifestage import DEFAULT_RULES as DEFAULT_SIGNALS
from regulars.analytics.lifestage import LIFE_STAGE, SignalRule, unique_signals
from regulars.analytics.rfm import PER_DAY, epoch_us

__all__ = ["churn_status", "churn_trend", "life_stage"]


def _gaps(seen: SparkFrame) -> SparkFrame:
    """Each visit with the gap in days since the member's previous one (null for the first)."""
    order = Window.partitionBy("member_id").orderBy("at", "receipt_id")
    return seen.withColumn("gap", (micros("at") - F.lag(micros("at")).over(order)) * F.lit(PER_DAY))


def _statuses(gaps: SparkFrame, bounds: list[datetime], rules: ChurnRules) -> SparkFrame:
    """Churn status per member at each of ``bounds`` (a ``bound`` column and ``churn.CHURN``).

    All snapshots are one job: the visits are paired with every bound they precede, so a
    12-month trend costs one pass instead of thirteen.
    """
    for bound in bounds:
        epoch_us(bound)
    snapshots = gaps.sparkSession.createDataFrame([(bound,) for bound in bounds], "bound timestamp")
    sorted_gaps = F.array_sort(F.collect_list("gap"))  # collect_list drops the nulls
    per_member = (
        gaps.crossJoin(F.broadcast(snapshots))
        .where(F.col("at") < F.col("bound"))
        .groupBy("bound", "member_id")
        .agg(
            F.count(F.lit(1)).alias("visits"),
            F.max(micros("at")).alias("last_us"),
            sorted_gaps.alias("sorted"),
        )
        .withColumn("count", F.size("sorted").cast("long"))
        .withColumn("position", (F.col("count") - 1).cast("double") * F.lit(rules.rhythm_quantile))
        .withColumn("low", F.floor("position").cast("double"))
        # Index 0 is an error even for try_element_at: an empty list reads index 1 (null).
        .withColumn(
            "lo_value",
            F.try_element_at("sorted", F.greatest(F.col("low") + 1, F.lit(1)).cast("int")),
        )
        .withColumn(
            "hi_value",
            F.try_element_at("sorted", F.greatest(F.ceil("position") + 1, F.lit(1)).cast("int")),
        )
    )
    quantile = F.col("lo_value") + (F.col("hi_value") - F.col("lo_value")) * (
        F.col("position") - F.col("low")
    )
    days = F.col("days_since_last")
    ratio = F.col("overdue_ratio")
    return (
        per_member.withColumn(
            "rhythm_days",
            F.when(F.col("count") > 0, F.greatest(quantile, F.lit(rules.min_rhythm_days))),
        )
        .withColumn("days_since_last", (micros("bound") - F.col("last_us")) * F.lit(PER_DAY))
        .withColumn("overdue_ratio", days / F.col("rhythm_days"))
        .withColumn(
            "status",
            F.when(days > F.lit(rules.max_days), "churned")
            .when(F.col("visits") < F.lit(rules.min_visits), "new")
            .when(ratio > F.lit(rules.churned_factor), "churned")
            .when(
                (ratio > F.lit(rules.at_risk_factor)) | (days > F.lit(rules.at_risk_days)),
                "at_risk",
            )
            .otherwise("active"),
        )
    )


def churn_status(
    lines: SparkFrame,
    *,
    as_of: datetime,
    rules: ChurnRules = DEFAULT_RULES,
) -> pl.DataFrame:
    """Visits, rhythm, absence, overdue ratio and status (Spark twin of ``churn.churn_status``)."""
    gaps = _gaps(visits(lines, as_of=as_of))
    return collect(_statuses(gaps, [as_of], rules), CHURN).sort("member_id")


def churn_trend(
    lines: SparkFrame,
    *,
    as_of: datetime,
    months: int = 12,
    rules: ChurnRules = DEFAULT_RULES,
) -> pl.DataFrame:
    """Monthly churn (Spark twin of ``churn.churn_trend``); the gaps are computed once."""
    bounds = month_starts(as_of, months)
    gaps = _gaps(visits(lines, as_of=bounds[-1]))
    every = collect(
        _statuses(gaps, bounds, rules),
        {"bound": UTC_TIME, "member_id": pl.Int64(), "status": pl.String()},
    )
    statuses = [every.filter(pl.col("bound") == bound).drop("bound") for bound in bounds]
    return trend_rows(bounds, statuses)


def _contains_any(column: str, words: Sequence[str]) -> Column:
    """True where ``column`` contains one of ``words``, ignoring case (null → False)."""
    hits = [F.lower(F.col(column)).contains(word.lower()) for word in words]
    return F.coalesce(reduce(lambda a, b: a | b, hits, F.lit(False)), F.lit(False))


def match_column(rule: SignalRule) -> Column:
    """The Spark condition on a product row for ``rule`` (as ``lifestage.match_expression``)."""
    hit: Column = F.lit(False)
    for column, words in rule.keywords.items():
        hit = hit | _contains_any(column, words)
    if rule.tags:
        tags = F.transform(F.split(F.lower(F.col("tags")), ","), lambda tag: F.trim(tag))
        wanted = F.array(*[F.lit(tag.lower()) for tag in rule.tags])
        hit = hit | F.coalesce(F.size(F.array_intersect(tags, wanted)) > 0, F.lit(False))
    for column, words in rule.exclude.items():
        hit = hit & ~_contains_any(column, words)
    return hit


def life_stage(
    lines: SparkFrame,
    products: SparkFrame,
    members: SparkFrame,
    *,
    as_of: datetime,
    rules: Sequence[SignalRule] = DEFAULT_SIGNALS,
    window_days: int = 365,
) -> pl.DataFrame:
    """Household signals per consenting member (Spark twin of ``lifestage.life_stage``)."""
    epoch_us(as_of)
    start = as_of - timedelta(days=window_days)
    consenting = (
        require_spark(members, MEMBERS, "members")
        .where(F.coalesce(F.col("consent_analytics"), F.lit(False)))
        .select("member_id")
        .distinct()
    )
    sold = (
        require_spark(lines, LINES, "lines")
        .where(
            F.col("member_id").isNotNull()
            & (F.col("quantity") > 0)
            & (F.col("at") >= F.lit(start))
            & (F.col("at") < F.lit(as_of))
        )
        .join(consenting, on="member_id", how="left_semi")
        .select("member_id", "product_id")
    )
    if not rules:
        return pl.DataFrame(schema=pl.Schema(LIFE_STAGE))
    catalogue = require_spark(products, PRODUCTS, "products")
    matching = reduce(
        lambda a, b: a.unionByName(b),
        [
            catalogue.where(match_column(rule)).select(
                "product_id",
                F.coalesce(F.col("category"), F.col("department"), F.lit("?")).alias("label"),
                F.lit(rule.signal).alias("signal"),
                F.lit(rule.min_lines).cast("long").alias("min_lines"),
                F.lit(rule.min_share).cast("double").alias("min_share"),
            )
            for rule in unique_signals(rules)
        ],
    )
    # The sold lines feed two aggregations; keep them rather than scan the lines twice.
    sold = sold.cache()
    try:
        totals = sold.groupBy("member_id").agg(F.count(F.lit(1)).alias("total"))
        labels = F.concat_ws(", ", F.slice(F.array_sort(F.collect_set("label")), 1, 3))
        hits = (
            sold.join(F.broadcast(matching), on="product_id")
            .groupBy("member_id", "signal")
            .agg(
                F.count(F.lit(1)).alias("matched"),
                labels.alias("labels"),
                F.first("min_lines").alias("min_lines"),
                F.first("min_share").alias("min_share"),
            )
            .join(totals, on="member_id")
            .withColumn("score", F.col("matched") / F.col("total"))
            .where(
                (F.col("matched") >= F.col("min_lines")) & (F.col("score") >= F.col("min_share"))
            )
            .select(
                "member_id",
                "signal",
                "score",
                F.format_string("%d of %d lines: %s", "matched", "total", "labels").alias(
                    "evidence"
                ),
            )
        )
        return collect(hits, LIFE_STAGE).sort("member_id", "signal")
    finally:
        sold.unpersist()
