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

from collections.abc import Mapping, Sequence

import polars as pl
from pyspark.sql import Column, SparkSession, Window
from pyspark.sql import DataFrame as SparkFrame
from pyspark.sql import functions as F  # noqa: N812 - the name every Spark reader expects

from regulars.analytics.frames import ColumnError
from regulars.analytics.repurchase import PREDICTIONS, RepurchaseModel
from regulars.analytics.repurchase_features import (
    FAST_DECAY,
    HISTORY,
    PROPENSITY_PRIOR,
    SIGNAL_ITEMS,
    SLOW_DECAY,
)
from regulars.analytics.repurchase_reasons import REGULAR_SPREAD

__all__ = ["predict_spark"]

_SPARK_TYPES: Mapping[str, str] = {
    "user_id": "long",
    "basket": "int",
    "day": "int",
    "item_id": "long",
}


def _history(frame: SparkFrame) -> SparkFrame:
    """Check and cast a Spark history to :data:`HISTORY`."""
    missing = [column for column in HISTORY if column not in frame.columns]
    if missing:
        raise ColumnError(f"history: missing column(s) {', '.join(missing)}")
    return frame.select([F.col(c).cast(_SPARK_TYPES[c]).alias(c) for c in HISTORY])


def _clip(column: Column, low: float | None, high: float | None) -> Column:
    """Polars' ``clip``: bounds applied, a null stays null (Spark's greatest skips nulls)."""
    bounded = column
    if low is not None:
        bounded = F.greatest(bounded, F.lit(low))
    if high is not None:
        bounded = F.least(bounded, F.lit(high))
    return F.when(column.isNull(), F.lit(None).cast("double")).otherwise(bounded)


def _ratio(numerator: Column, denominator: Column) -> Column:
    """Division that yields null for a zero denominator (as Polars' NaN/inf later filled)."""
    return F.when(denominator == 0, F.lit(None).cast("double")).otherwise(
        numerator.cast("double") / denominator.cast("double")
    )


def _ln(column: Column) -> Column:
    """Natural log, null for non-positive input (Polars gives NaN or -inf; both become 0)."""
    return F.when(column > 0, F.log(column.cast("double")))


def _json(**fields: Column) -> Column:
    """A JSON object string of named columns (compact, as Polars writes it)."""
    return F.to_json(F.struct(*[column.alias(name) for name, column in fields.items()]))


def _summaries(
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


def _candidates(
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


def _features(
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
    visit_gap = _ratio(F.col("last_visit") - F.col("first_visit"), count - 1.0)
    visit_due = F.when(
        F.col("count") >= 2, _clip(_ln(_ratio(visits_since + 1.0, visit_gap)), -3.0, 3.0)
    ).otherwise(0.0)
    popularity = _ln((F.col("baskets").cast("double") + 0.5) / float(max(population, 1)))
    features: dict[str, Column] = {
        "own": own,
        "log_count": F.log1p(count),
        "share": _ratio(count, visits),
        "share_x_log_visits": _ratio(count, visits) * _ln(visits),
        "recent_fast": F.col("fast") * (1.0 - FAST_DECAY),
        "recent_slow": F.col("slow") * (1.0 - SLOW_DECAY),
        "log_visits_since": F.log1p(visits_since) * own,
        "again": again,
        "visit_due": visit_due,
        "visit_due_sq": visit_due * visit_due,
        "own_x_propensity": _ln(F.col("propensity")) * own,
        "own_x_log_visits": _ln(visits) * own,
        "own_x_repeat_share": F.col("repeat_share") * own,
        "log_popularity": popularity,
        "new_x_log_popularity": popularity * new,
        "new_x_log_basket_size": _ln(F.col("basket_size")) * new,
    }
    if dated:
        days_since = _clip(F.col("next_visit_day") - F.col("last_day").cast("double"), 0.0, None)
        day_gap = _ratio(F.col("last_day") - F.col("first_day"), count - 1.0)
        day_due = F.when(
            F.col("count") >= 2,
            _clip(_ln(_ratio(days_since + 1.0, _clip(day_gap, 1.0, None))), -4.0, 4.0),
        ).otherwise(0.0)
        features |= {
            "log_days_since": F.log1p(days_since) * own,
            "day_due": day_due,
            "day_due_sq": day_due * day_due,
            "log_day_gap": F.when(F.col("count") >= 2, F.log1p(day_gap)).otherwise(0.0),
        }
    if model.extras.categories is not None:
        category_share = _ratio(F.col("category_visits"), visits)
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


def _explain(frame: SparkFrame, dated: bool, as_of: int | None, population: int) -> SparkFrame:
    """Reason code, parameters (JSON) and expected days, as ``repurchase_reasons.explain``."""
    count = F.col("count")
    if dated:
        now = F.lit(as_of or 0)
        days_since = (now - F.col("last_day")).cast("long")
        day_gap = _ratio(F.col("last_day") - F.col("first_day"), count - 1)
        regular = (
            (count >= 3) & (day_gap >= 1.0) & (F.col("gap_day_sd") <= REGULAR_SPREAD * day_gap)
        )
        rhythm = _json(every_days=F.bround(day_gap, 0).cast("long"), last_days=days_since)
        again = _json(last_days=days_since)
        expected = F.when(
            count >= 2,
            F.greatest(F.bround(F.col("last_day") + day_gap - now, 0), F.lit(0.0)),
        )
    else:
        visits_since = F.col("visits") - 1 - F.col("last_visit").cast("long")
        visit_gap = _ratio(F.col("last_visit") - F.col("first_visit"), count - 1)
        regular = count >= 3
        rhythm = _json(
            every_visits=F.greatest(F.bround(visit_gap, 0), F.lit(1.0)).cast("long"),
            last_visits=visits_since,
        )
        again = _json(last_visits=visits_since)
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
        .when(F.col("reason_code") == "often", _json(times=count, visits=F.col("visits")))
        .when(F.col("reason_code") == "again", again)
        .when(F.col("reason_code") == "household", _json(signal=F.col("signal")))
        .when(
            F.col("reason_code") == "category",
            _json(category=F.col("category"), visits=F.col("category_visits")),
        )
        .otherwise(_json(share=share))
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
    history = _history(history).cache()
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
    user_table, pairs, items = _summaries(history, asked, dated)
    who = user_table.select("user_id") if asked is None else asked
    items = items.cache()
    frame = _candidates(session, model, who, pairs, items)
    gap = _ratio(F.col("last_day") - F.col("first_day"), F.col("visits") - 1)
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
    frame, features = _features(frame, model, population, dated)
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
    table = top.select(list(PREDICTIONS)).orderBy("user_id", "rank").toArrow()
    result = pl.from_arrow(table)
    assert isinstance(result, pl.DataFrame)
    for cached in (history, items, user_table, pairs):
        cached.unpersist()
    return result.cast(pl.Schema(PREDICTIONS))
