"""Market baskets on Spark: the twin of :mod:`regulars.analytics.basket` for a cluster.

Baskets are built, and itemsets and rules mined, by Spark (MLlib's parallel FP-growth,
Li et al. 2008); only the rules' basket counts come back to the driver, where the same
vectorised :func:`~regulars.analytics.basket.rule_metrics` scores them as the local engine
does. The two engines therefore agree exactly on the same data (a test checks it).

Spark rounds its support threshold up (``ceil(minSupport × N)``); it is handed the
midpoint below the local engine's count floor so that both keep exactly the same itemsets.
Heads are single items here (MLlib's rules have one-item consequents).
"""

from __future__ import annotations

from datetime import datetime

import numpy as np
import polars as pl
from pyspark.ml.fpm import FPGrowth
from pyspark.sql import Column, SparkSession
from pyspark.sql import DataFrame as SparkFrame
from pyspark.sql import functions as F  # noqa: N812 - the name every Spark reader expects

from regulars.analytics.basket import ITEMSETS, LEVELS, RULES, Level, Mined, min_count, rule_metrics
from regulars.analytics.frames import LINES, PRODUCTS, require

__all__ = ["mine_spark", "spark_basket_items"]


def _frame(spark: SparkSession, table: pl.DataFrame | SparkFrame) -> SparkFrame:
    """A Spark frame from a Polars one (through Arrow), or the Spark frame itself."""
    if isinstance(table, pl.DataFrame):
        return spark.createDataFrame(table.to_arrow())
    return table


def _checked(
    spark: SparkSession, table: pl.DataFrame | SparkFrame, columns: list[str], name: str
) -> SparkFrame:
    """Check a Polars input's columns as the local engine does; Spark frames are trusted."""
    if isinstance(table, pl.DataFrame):
        source = LINES if name == "lines" else PRODUCTS
        return _frame(spark, require(table, {c: source[c] for c in columns}, name))
    return table.select(*columns)


def spark_basket_items(
    spark: SparkSession,
    lines: pl.DataFrame | SparkFrame,
    products: pl.DataFrame | SparkFrame | None = None,
    *,
    level: Level = "product",
    since: datetime | None = None,
    until: datetime | None = None,
    store_id: int | None = None,
) -> SparkFrame:
    """One row per (receipt, item) at ``level``, as :func:`basket_items` builds it locally."""
    wanted = ["receipt_id", "product_id", "quantity"]
    wanted += ["at"] if since is not None or until is not None else []
    wanted += ["store_id"] if store_id is not None else []
    frame = _checked(spark, lines, wanted, "lines")
    keep: Column = F.col("quantity") > 0
    if since is not None:
        keep &= F.col("at") >= F.lit(since)
    if until is not None:
        keep &= F.col("at") < F.lit(until)
    if store_id is not None:
        keep &= F.col("store_id") == F.lit(store_id)
    frame = frame.where(keep)
    if level == "product":
        return frame.select("receipt_id", F.col("product_id").cast("string").alias("item"))
    if level not in LEVELS:
        raise ValueError(f"level must be one of {', '.join(LEVELS)}")
    if products is None:
        raise ValueError(f"the {level} level needs the products table")
    names = (
        _checked(spark, products, ["product_id", level], "products")
        .select("product_id", F.trim(F.col(level)).alias("item"))
        .where(F.length("item") > 0)
    )
    return frame.join(names, on="product_id", how="inner").select("receipt_id", "item")


def _sorted_strings(column: str) -> pl.Expr:
    return pl.col(column).list.sort()


def _collect(frame: SparkFrame) -> pl.DataFrame:
    """A Spark frame brought to the driver as a Polars frame (through Arrow)."""
    collected = pl.from_arrow(frame.toArrow())
    if not isinstance(collected, pl.DataFrame):
        collected = collected.to_frame()
    return collected


def mine_spark(
    spark: SparkSession,
    lines: pl.DataFrame | SparkFrame,
    products: pl.DataFrame | SparkFrame | None = None,
    *,
    level: Level = "product",
    min_support: float,
    min_confidence: float,
    min_lift: float = 0.0,
    since: datetime | None = None,
    until: datetime | None = None,
    store_id: int | None = None,
    max_items: int | None = None,
    min_baskets: int = 1,
) -> Mined:
    """Frequent itemsets and one-item-head rules mined by Spark's FP-growth.

    MLlib cannot cap the size of itemsets while mining; ``max_items`` drops the larger
    itemsets and rules afterwards, which gives the local engine's results (a rule depends
    only on its own itemset and that itemset's subsets).
    """
    if not 0 < min_support <= 1 or not 0 <= min_confidence <= 1:
        raise ValueError("support must be in (0, 1] and confidence in [0, 1]")
    items = spark_basket_items(
        spark, lines, products, level=level, since=since, until=until, store_id=store_id
    )
    baskets = items.groupBy("receipt_id").agg(F.collect_set("item").alias("items")).cache()
    try:
        total = baskets.count()
        floor = max(min_count(min_support, total), min_baskets)
        if total == 0:
            return _empty(min_support, min_confidence)
        model = FPGrowth(
            itemsCol="items",
            minSupport=(floor - 0.5) / total,
            minConfidence=min_confidence,
        ).fit(baskets)
        itemsets = model.freqItemsets.select(
            F.array_sort("items").alias("items"), F.col("freq").alias("count")
        ).cache()
        counted = _rule_counts(model.associationRules, itemsets)
        found = _collect(itemsets)
        itemsets.unpersist()
    finally:
        baskets.unpersist()
    itemset_frame = found.select(
        _sorted_strings("items").alias("items"),
        pl.col("count").cast(pl.Int64),
        (pl.col("count") / total).alias("support"),
    ).cast(ITEMSETS)  # type: ignore[arg-type]
    rules = _scored(counted, total, min_lift)
    if max_items is not None:
        itemset_frame = itemset_frame.filter(pl.col("items").list.len() <= max_items)
        size = pl.col("antecedent").list.len() + pl.col("consequent").list.len()
        rules = rules.filter(size <= max_items)
    return Mined(
        itemsets=itemset_frame,
        rules=rules,
        transactions=total,
        min_count=floor,
        min_support=min_support,
        min_confidence=min_confidence,
    )


def _rule_counts(rules: SparkFrame, itemsets: SparkFrame) -> pl.DataFrame:
    """Each rule's antecedent and consequent with the three basket counts, on the driver."""
    keyed = itemsets.withColumnRenamed("items", "key")
    joined = (
        rules.select(
            F.array_sort("antecedent").alias("antecedent"),
            F.col("consequent"),
            F.array_sort(F.concat("antecedent", "consequent")).alias("union"),
        )
        .join(
            keyed.withColumnRenamed("count", "antecedent_count"),
            F.col("antecedent") == F.col("key"),
        )
        .drop("key")
        .join(
            keyed.withColumnRenamed("count", "consequent_count"),
            F.col("consequent") == F.col("key"),
        )
        .drop("key")
        .join(keyed, F.col("union") == F.col("key"))
        .select("antecedent", "consequent", "count", "antecedent_count", "consequent_count")
    )
    return _collect(joined)


def _scored(counted: pl.DataFrame, total: int, min_lift: float) -> pl.DataFrame:
    """The rules with their measures, in the local engine's columns and order."""
    metrics = rule_metrics(
        counted["count"].to_numpy().astype(np.float64),
        counted["antecedent_count"].to_numpy().astype(np.float64),
        counted["consequent_count"].to_numpy().astype(np.float64),
        total,
    )
    frame = (
        counted.select(
            _sorted_strings("antecedent").alias("antecedent"),
            _sorted_strings("consequent").alias("consequent"),
            pl.col("count", "antecedent_count", "consequent_count").cast(pl.Int64),
        )
        .with_columns(**{name: pl.Series(values) for name, values in metrics.items()})
        .filter(pl.col("lift") >= min_lift)
        .cast(RULES)  # type: ignore[arg-type]
    )
    return frame.sort(
        ["lift", "confidence", "antecedent", "consequent"], descending=[True, True, False, False]
    )


def _empty(min_support: float, min_confidence: float) -> Mined:
    return Mined(
        itemsets=pl.DataFrame(schema=ITEMSETS),
        rules=pl.DataFrame(schema=RULES),
        transactions=0,
        min_count=1,
        min_support=min_support,
        min_confidence=min_confidence,
    )
