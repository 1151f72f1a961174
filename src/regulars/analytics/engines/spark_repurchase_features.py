"""The Spark twin's summaries, candidates and features (see :mod:`.spark_repurchase`).

Formula for formula those of :mod:`regulars.analytics.repurchase_summary` and
:mod:`regulars.analytics.repurchase_features`, as Spark DataFrame operations; a missing
value becomes 0 only where the local engine fills it.
"""

from __future__ import annotations

from collections.abc import Mapping

from pyspark.sql import Column, SparkSession, Window
from pyspark.sql import DataFrame as SparkFrame
from pyspark.sql import functions as F  # noqa: N812 - the name every Spark reader expects

from regulars.analytics.frames import ColumnError
from regulars.analytics.repurchase import RepurchaseModel
from regulars.analytics.repurchase_summary import (
    FAST_DECAY,
    HISTORY,
    PROPENSITY_PRIOR,
    SIGNAL_ITEMS,
    SLOW_DECAY,
)

__all__ = [
    "candidate_frame",
    "clip",
    "feature_columns",
    "history_frame",
    "json_object",
    "ln",
    "ratio",
    "summaries",
]

_SPARK_TYPES: Mapping[str, str] = {
    "user_id": "long",
    "basket": "int",
    "day": "int",
    "item_id": "long",
}


def history_frame(frame: SparkFrame) -> SparkFrame:
    """Check and cast a Spark history to :data:`HISTORY`."""
    missing = [column for column in HISTORY if column not in frame.columns]
    if missing:
        raise ColumnError(f"history: missing column(s) {', '.join(missing)}")
    return frame.select([F.col(c).cast(_SPARK_TYPES[c]).alias(c) for c in HISTORY])


def clip(column: Column, low: float | None, high: float | None) -> Column:
    """Polars' ``clip``: bounds applied, a null stays null (Spark's greatest skips nulls)."""
    bounded = column
    if low is not None:
        bounded = F.greatest(bounded, F.lit(low))
    if high is not None:
        bounded = F.least(bounded, F.lit(high))
    return F.when(column.isNull(), F.lit(None).cast("double")).otherwise(bounded)


def ratio(numerator: Column, denominator: Column) -> Column:
    """Division that yields null for a zero denominator (as Polars' NaN/inf later filled)."""
    return F.when(denominator == 0, F.lit(None).cast("double")).otherwise(
        numerator.cast("double") / denominator.cast("double")
    )


def ln(column: Column) -> Column:
    """Natural log, null for non-positive input (Polars gives NaN or -inf; both become 0)."""
    return F.when(column > 0, F.log(column.cast("double")))


def json_object(**fields: Column) -> Column:
    """A JSON object string of named columns (compact, as Polars writes it)."""
    return F.to_json(F.struct(*[column.alias(name) for name, column in fields.items()]))


def summaries(
    history: SparkFrame, who: SparkFrame | None, dated: bool
) -> tuple[SparkFrame, SparkFrame, SparkFrame]:
    """Per-user, per-(user, item) and per-item tables for ``who`` (everyone when None).

    Baskets are numbered 0, 1, … per user (the :data:`HISTORY` contract), so a user's visits
    are their last basket number plus one and their mean basket size is lines ÷ visits.
    """
    mine = history if who is None else history.join(who, "user_id", "left_semi")
    users = (
        mine.groupBy("user_id")
        .agg(
            (F.max("basket") + 1).cast("long").alias("visits"),
            F.count(F.lit(1)).alias("lines"),
            F.countDistinct("item_id").alias("distinct_items"),
            F.min("day").alias("first_day"),
            F.max("day").alias("last_day"),
        )
        .withColumn("basket_size", F.col("lines") / F.col("visits"))
        .withColumn(
            "repeat_share",
            (F.col("lines") - F.col("distinct_items") + 1.0) / (F.col("lines") + 2.0),
        )
        .cache()
    )
    ago = (F.col("visits") - 1 - F.col("basket")).cast("double")
    rows = mine.join(F.broadcast(users.select("user_id", "visits")), "user_id")
    if dated:
        previous = F.lag("day").over(Window.partitionBy("user_id", "item_id").orderBy("basket"))
        rows = rows.withColumn("gap_day", F.col("day") - previous)
    else:
        rows = rows.withColumn("gap_day", F.lit(None).cast("int"))
    pairs = (
        rows.groupBy("user_id", "item_id")
        .agg(
            F.count(F.lit(1)).cast("long").alias("count"),
            F.min("basket").alias("first_visit"),
            F.max("basket").alias("last_visit"),
            F.min("day").alias("first_day"),
            F.max("day").alias("last_day"),
            F.stddev_samp("gap_day").alias("gap_day_sd"),
            F.sum(F.pow(F.lit(FAST_DECAY), ago)).alias("fast"),
            F.sum(F.pow(F.lit(SLOW_DECAY), ago)).alias("slow"),
            F.first("visits").alias("visits"),
        )
        .cache()
    )
    if who is None:
        everyone = pairs.select("item_id", "count", "first_visit", "visits")
    else:
        visits = history.groupBy("user_id").agg((F.max("basket") + 1).cast("long").alias("visits"))
        everyone = (
            history.groupBy("user_id", "item_id")
            .agg(
                F.count(F.lit(1)).cast("long").alias("count"), F.min("basket").alias("first_visit")
            )
            .join(visits, "user_id")
        )
    items = everyone.groupBy("item_id").agg(
        F.sum("count").alias("baskets"),
        F.count(F.lit(1)).alias("buyers"),
        F.sum(F.col("count") - 1).alias("repeats"),
        F.sum(F.col("visits") - 1 - F.col("first_visit")).alias("chances"),
    )
    # One-row frames joined on instead of collected: the whole plan runs as one job.
    overall = items.agg(
        (
            F.sum("repeats").cast("double")
            / F.greatest(F.sum("chances").cast("double"), F.lit(1.0))
        ).alias("overall")
    )
    items = (
        items.crossJoin(overall)
        .withColumn(
            "propensity",
            (F.col("repeats") + PROPENSITY_PRIOR * F.col("overall"))
            / (F.col("chances") + PROPENSITY_PRIOR),
        )
        .drop("overall")
        .withColumn(
            "popularity_rank",
            F.row_number().over(Window.orderBy(F.col("baskets").desc(), F.col("item_id").asc())),
        )
    )
    return users, pairs, items


def candidate_frame(
    session: SparkSession,
    model: RepurchaseModel,
    who: SparkFrame,
    pairs: SparkFrame,
    items: SparkFrame,
) -> SparkFrame:
    """Own items with their facts, plus the popular and household items (facts null)."""
    own = pairs.drop("visits")  # the pairs are already those of ``who``
    popular = items.where(F.col("popularity_rank") <= model.params.n_popular).select("item_id")
    others = who.crossJoin(popular)
    extras = model.extras
    if extras.user_signals is not None and extras.item_signals is not None:
        ranked = (
            session.createDataFrame(extras.item_signals.to_arrow())
            .join(items.select("item_id", "popularity_rank"), "item_id")
            .withColumn(
                "n",
                F.row_number().over(Window.partitionBy("signal").orderBy("popularity_rank")),
            )
            .where(F.col("n") <= SIGNAL_ITEMS)
        )
        households = session.createDataFrame(extras.user_signals.to_arrow()).join(
            who, "user_id", "left_semi"
        )
        others = others.unionByName(households.join(ranked, "signal").select("user_id", "item_id"))
    fresh = others.distinct().join(own, ["user_id", "item_id"], "left_anti")
    return own.unionByName(fresh, allowMissingColumns=True)


def feature_columns(
    frame: SparkFrame,
    model: RepurchaseModel,
    population: int,
    dated: bool,
) -> tuple[SparkFrame, dict[str, Column]]:
    """The model's features, named and ordered as :func:`feature_frame` makes them."""
    visits = F.col("visits").cast("double")
    count = F.col("count").cast("double")
    own = F.when(F.col("count") > 0, 1.0).otherwise(0.0)
    new = 1.0 - own
    again = F.when(F.col("count") >= 2, 1.0).otherwise(0.0)
    visits_since = F.coalesce(visits - 1.0 - F.col("last_visit").cast("double"), F.lit(0.0))
    visit_gap = ratio(F.col("last_visit") - F.col("first_visit"), count - 1.0)
    visit_due = F.when(
        F.col("count") >= 2, clip(ln(ratio(visits_since + 1.0, visit_gap)), -3.0, 3.0)
    ).otherwise(0.0)
    popularity = ln((F.col("baskets").cast("double") + 0.5) / float(max(population, 1)))
    features: dict[str, Column] = {
        "own": own,
        "log_count": F.log1p(count),
        "share": ratio(count, visits),
        "share_x_log_visits": ratio(count, visits) * ln(visits),
        "recent_fast": F.col("fast") * (1.0 - FAST_DECAY),
        "recent_slow": F.col("slow") * (1.0 - SLOW_DECAY),
        "log_visits_since": F.log1p(visits_since) * own,
        "again": again,
        "visit_due": visit_due,
        "visit_due_sq": visit_due * visit_due,
        "own_x_propensity": ln(F.col("propensity")) * own,
        "own_x_log_visits": ln(visits) * own,
        "own_x_repeat_share": F.col("repeat_share") * own,
        "log_popularity": popularity,
        "new_x_log_popularity": popularity * new,
        "new_x_log_basket_size": ln(F.col("basket_size")) * new,
    }
    if dated:
        days_since = clip(F.col("next_visit_day") - F.col("last_day").cast("double"), 0.0, None)
        day_gap = ratio(F.col("last_day") - F.col("first_day"), count - 1.0)
        day_due = F.when(
            F.col("count") >= 2,
            clip(ln(ratio(days_since + 1.0, clip(day_gap, 1.0, None))), -4.0, 4.0),
        ).otherwise(0.0)
        features |= {
            "log_days_since": F.log1p(days_since) * own,
            "day_due": day_due,
            "day_due_sq": day_due * day_due,
            "log_day_gap": F.when(F.col("count") >= 2, F.log1p(day_gap)).otherwise(0.0),
        }
    if model.extras.categories is not None:
        category_share = ratio(F.col("category_visits"), visits)
        features |= {
            "category_share": category_share,
            "new_x_category_share": category_share * new,
        }
    if model.extras.user_signals is not None and model.extras.item_signals is not None:
        features["household"] = F.when(F.col("signal").isNotNull(), 1.0).otherwise(0.0)
    if tuple(features) != model.names:
        raise ValueError("the history's kind (dates, categories, signals) changed since fit")
    filled = {
        name: F.coalesce(F.nanvl(expr.cast("double"), F.lit(None)), F.lit(0.0))
        for name, expr in features.items()
    }
    return frame.withColumns(filled), filled
