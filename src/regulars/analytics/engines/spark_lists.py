"""The Spark twin of :func:`regulars.analytics.list_building.build_lists`.

The catalogue and the cycle's deals are small (thousands of rows), so the best offer per
item is found on the driver with the local :func:`~regulars.analytics.list_building.item_offers`
and broadcast; what grows with the membership — joining every member's needs to the offers
and choosing each list — runs on the executors. Each member's rows are brought to one
partition in choosing order, and the partition's lists are chosen by the same
:func:`~regulars.analytics.list_building.choose_mask` the local engine uses.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import polars as pl
import pyarrow as pa  # type: ignore[import-untyped]
from pyspark.sql import DataFrame as SparkFrame
from pyspark.sql import SparkSession
from pyspark.sql import functions as F  # noqa: N812 - the name every Spark reader expects

from regulars.analytics.list_building import LISTS, ListRules, choose_mask, item_offers

__all__ = ["build_lists_spark"]

_CHOSEN = (
    "user_id long, item_id long, deal_id long, category string, discount_cents long, "
    "score double, position int"
)
_COLUMNS = ["user_id", "item_id", "deal_id", "category", "discount_cents", "score", "position"]


Batches = Iterator[pa.RecordBatch]


def _choose_partition(rules: ListRules) -> Callable[[Batches], Batches]:
    """The function each partition runs: choose its members' lists (rows in choosing order)."""

    def choose(batches: Batches) -> Batches:
        parts = list(batches)
        if not parts:
            return
        rows = pl.from_arrow(pa.Table.from_batches(parts))
        assert isinstance(rows, pl.DataFrame)
        if rows.height == 0:
            return
        mask = choose_mask(
            rows["user_id"].to_numpy(),
            rows["category_code"].to_numpy(),
            rows["discount_cents"].to_numpy(),
            rows["budget_cents"].to_numpy(),
            length=rules.length,
            per_category=rules.per_category,
        )
        chosen = rows.filter(pl.Series(mask)).with_columns(
            position=pl.int_range(1, pl.len() + 1, dtype=pl.Int32).over("user_id")
        )
        yield from chosen.select(_COLUMNS).to_arrow().to_batches()

    return choose


def build_lists_spark(
    session: SparkSession,
    needs: SparkFrame,
    catalogue: pl.DataFrame,
    deals: pl.DataFrame,
    rules: ListRules | None = None,
    *,
    budgets: SparkFrame | None = None,
    partitions: int | None = None,
) -> pl.DataFrame:
    """Every member's list from Spark ``needs`` (``user_id, item_id, score``), as Polars.

    ``budgets`` (``user_id, budget``) overrides ``rules.budget`` per member.
    """
    rules = rules or ListRules()
    offers = item_offers(catalogue, deals, rules.store_discount).with_columns(
        category_code=pl.col("category").fill_null("").rank("dense").cast(pl.Int64)
        * pl.col("category").is_not_null().cast(pl.Int64)
    )
    offered = session.createDataFrame(offers.to_arrow())
    frame = (
        needs.select(
            F.col("user_id").cast("long"),
            F.col("item_id").cast("long"),
            F.col("score").cast("double"),
        )
        .groupBy("user_id", "item_id")
        .agg(F.max("score").alias("score"))
        .join(F.broadcast(offered), "item_id")
        .withColumn("budget_cents", F.lit(round(rules.budget * 100)).cast("long"))
    )
    if budgets is not None:
        own = budgets.select(
            F.col("user_id").cast("long"),
            F.round(F.col("budget").cast("double") * 100).cast("long").alias("own_cents"),
        )
        frame = (
            frame.join(own, "user_id", "left")
            .withColumn("budget_cents", F.coalesce("own_cents", "budget_cents"))
            .drop("own_cents")
        )
    count = partitions or int(session.conf.get("spark.sql.shuffle.partitions") or 8)
    ordered = frame.repartition(count, "user_id").sortWithinPartitions(
        F.col("user_id"), F.col("score").desc(), F.col("item_id")
    )
    chosen = ordered.mapInArrow(_choose_partition(rules), _CHOSEN)
    table = chosen.orderBy("user_id", "position").toArrow()
    result = pl.from_arrow(table)
    assert isinstance(result, pl.DataFrame)
    return result.select(list(LISTS)).cast(pl.Schema(LISTS))
