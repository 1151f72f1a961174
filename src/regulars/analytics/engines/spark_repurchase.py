"""The Spark twin of repurchase scoring: a fitted model's lists for a history on a cluster.

Fitting stays local (it needs a few thousand users, see ``RepurchaseParams.learn_users``);
scoring every member each cycle is what grows with the chain, so this module recomputes the
summary, candidates, features, scores, ranks and reasons of
:mod:`regulars.analytics.repurchase` with Spark DataFrame operations, formula for formula,
and returns the same :data:`~regulars.analytics.repurchase.PREDICTIONS` table (collected
through Arrow). Ties are broken the same way (item id), rounding is half-to-even on both
sides, and a missing value becomes 0 only where the local engine fills it.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import polars as pl
from pyspark.sql import DataFrame as SparkFrame
from pyspark.sql import SparkSession, Window
from pyspark.sql import functions as F  # noqa: N812 - the name every Spark reader expects

from regulars.analytics.engines.spark_repurchase_features import (
    candidate_frame,
    feature_columns,
    history_frame,
    json_object,
    ratio,
    summaries,
)
from regulars.analytics.repurchase import PREDICTIONS, RepurchaseModel
from regulars.analytics.repurchase_reasons import REGULAR_SPREAD

__all__ = ["history_from_lines_spark", "predict_spark", "spark_predictions"]


def _explain(frame: SparkFrame, dated: bool, as_of: int | None, population: int) -> SparkFrame:
    """Reason code, parameters (JSON) and expected days, as ``repurchase_reasons.explain``."""
    count = F.col("count")
    if dated:
        now = F.lit(as_of or 0)
        days_since = (now - F.col("last_day")).cast("long")
        day_gap = ratio(F.col("last_day") - F.col("first_day"), count - 1)
        regular = (
            (count >= 3) & (day_gap >= 1.0) & (F.col("gap_day_sd") <= REGULAR_SPREAD * day_gap)
        )
        rhythm = json_object(every_days=F.bround(day_gap, 0).cast("long"), last_days=days_since)
        again = json_object(last_days=days_since)
        expected = F.when(
            count >= 2,
            F.greatest(F.bround(F.col("last_day") + day_gap - now, 0), F.lit(0.0)),
        )
    else:
        visits_since = F.col("visits") - 1 - F.col("last_visit").cast("long")
        visit_gap = ratio(F.col("last_visit") - F.col("first_visit"), count - 1)
        regular = count >= 3
        rhythm = json_object(
            every_visits=F.greatest(F.bround(visit_gap, 0), F.lit(1.0)).cast("long"),
            last_visits=visits_since,
        )
        again = json_object(last_visits=visits_since)
        expected = F.lit(None)
    share = F.bround(F.col("buyers") * 100.0 / max(population, 1), 1)
    code = (
        F.when(regular, "rhythm")
        .when(count >= 2, "often")
        .when(count == 1, "again")
        .when(F.col("signal").isNotNull(), "household")
        .when(F.col("category_visits") > 0, "category")
        .otherwise("popular")
    )
    params = (
        F.when(F.col("reason_code") == "rhythm", rhythm)
        .when(F.col("reason_code") == "often", json_object(times=count, visits=F.col("visits")))
        .when(F.col("reason_code") == "again", again)
        .when(F.col("reason_code") == "household", json_object(signal=F.col("signal")))
        .when(
            F.col("reason_code") == "category",
            json_object(category=F.col("category"), visits=F.col("category_visits")),
        )
        .otherwise(json_object(share=share))
    )
    return (
        frame.withColumn("reason_code", code)
        .withColumn("reason_params", params)
        .withColumn("expected_days", expected.cast("int"))
    )


def predict_spark(
    session: SparkSession,
    model: RepurchaseModel,
    history: SparkFrame,
    k: int = 20,
    *,
    users: Sequence[int] | None = None,
    as_of: int | None = None,
) -> pl.DataFrame:
    """The Spark twin of :meth:`RepurchaseModel.predict` over a Spark ``history``."""
    with spark_predictions(session, model, history, k, users=users, as_of=as_of) as top:
        table = top.orderBy("user_id", "rank").toArrow()
    result = pl.from_arrow(table)
    assert isinstance(result, pl.DataFrame)
    return result.cast(pl.Schema(PREDICTIONS))


@contextmanager
def spark_predictions(
    session: SparkSession,
    model: RepurchaseModel,
    history: SparkFrame,
    k: int = 20,
    *,
    users: Sequence[int] | None = None,
    as_of: int | None = None,
) -> Iterator[SparkFrame]:
    """The predictions as a Spark frame (:data:`PREDICTIONS` columns), for further Spark work.

    The summaries it reads are cached while the block runs and released after it.
    """
    history = history_frame(history).cache()
    counts = history.agg(
        F.count(F.lit(1)), F.count("day"), F.max("day"), F.countDistinct("user_id")
    ).first()
    assert counts is not None
    dated = counts[0] > 0 and counts[0] == counts[1]
    population = int(counts[3])
    as_of = as_of if as_of is not None else model.as_of
    if dated and as_of is None:
        as_of = int(counts[2])
    asked = None
    if users is not None:
        asked = session.createDataFrame([(int(u),) for u in dict.fromkeys(users)], "user_id long")
    user_table, pairs, items = summaries(history, asked, dated)
    who = user_table.select("user_id") if asked is None else asked
    items = items.cache()
    frame = candidate_frame(session, model, who, pairs, items)
    gap = ratio(F.col("last_day") - F.col("first_day"), F.col("visits") - 1)
    usual = user_table.where(F.col("visits") > 1).agg(
        F.coalesce(F.percentile(gap, F.lit(0.5)), F.lit(7.0)).alias("usual")
    )
    next_visits = user_table.crossJoin(usual).select(
        "user_id",
        "visits",
        "basket_size",
        "repeat_share",
        (
            F.col("last_day").cast("double")
            + F.when(F.col("visits") > 1, gap).otherwise(F.col("usual"))
        ).alias("next_visit_day"),
    )
    floor = items.agg(F.min("propensity").alias("floor"))
    frame = (
        frame.join(next_visits, "user_id", "left")
        .join(items.select("item_id", "baskets", "buyers", "propensity"), "item_id", "left")
        .crossJoin(floor)
        .withColumn("propensity", F.coalesce(F.col("propensity"), F.col("floor")))
        .drop("floor")
        .fillna({"count": 0, "baskets": 0, "buyers": 0})
    )
    extras = model.extras
    if extras.categories is not None:
        categories = session.createDataFrame(
            extras.categories.select("item_id", "category").unique("item_id").to_arrow()
        )
        per_user = (
            history.join(who, "user_id", "left_semi")
            .join(categories, "item_id")
            .groupBy("user_id", "category")
            .agg(F.countDistinct("basket").cast("long").alias("category_visits"))
        )
        frame = (
            frame.join(categories, "item_id", "left")
            .join(per_user, ["user_id", "category"], "left")
            .fillna({"category_visits": 0})
        )
    else:
        frame = frame.withColumn("category", F.lit(None).cast("string")).withColumn(
            "category_visits", F.lit(0).cast("long")
        )
    if extras.user_signals is not None and extras.item_signals is not None:
        matches = (
            session.createDataFrame(extras.user_signals.to_arrow())
            .join(session.createDataFrame(extras.item_signals.to_arrow()), "signal")
            .groupBy("user_id", "item_id")
            .agg(F.min("signal").alias("signal"))
        )
        frame = frame.join(matches, ["user_id", "item_id"], "left")
    else:
        frame = frame.withColumn("signal", F.lit(None).cast("string"))
    frame, features = feature_columns(frame, model, population, dated)
    logit = F.lit(float(model.intercept))
    for index, name in enumerate(model.names):
        weight = float(model.weights[index]) / float(model.scale[index])
        logit = logit + (features[name] - float(model.mean[index])) * weight
    score = 0.5 * (1.0 + F.tanh(0.5 * logit))
    order = Window.partitionBy("user_id").orderBy(F.col("score").desc(), F.col("item_id").asc())
    top = (
        frame.withColumn("score", score)
        .withColumn("rank", F.row_number().over(order))
        .where(F.col("rank") <= k)
    )
    top = _explain(top, dated, as_of, population)
    try:
        yield top.select(list(PREDICTIONS))
    finally:
        for cached in (history, items, user_table, pairs):
            cached.unpersist()


def history_from_lines_spark(lines: SparkFrame) -> SparkFrame:
    """The Spark twin of :func:`regulars.analytics.repurchase.history_from_lines`.

    Anonymous receipts and returns are left out; a member's receipts are numbered in time
    order (ties by receipt id) and dated by their UTC day (days since 1970-01-01).
    """
    kept = lines.where(F.col("member_id").isNotNull() & (F.col("quantity") > 0))
    order = Window.partitionBy("member_id").orderBy("at", "receipt_id")
    receipts = (
        kept.groupBy("member_id", "receipt_id")
        .agg(F.min("at").alias("at"))
        .select(
            "member_id",
            "receipt_id",
            (F.row_number().over(order) - 1).cast("int").alias("basket"),
            F.datediff(F.to_date("at"), F.lit("1970-01-01").cast("date")).cast("int").alias("day"),
        )
    )
    return (
        kept.select("member_id", "receipt_id", "product_id")
        .distinct()
        .join(receipts, ["member_id", "receipt_id"])
        .select(
            F.col("member_id").cast("long").alias("user_id"),
            "basket",
            "day",
            F.col("product_id").cast("long").alias("item_id"),
        )
    )
