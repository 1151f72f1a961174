"""Market baskets: the tables rules are mined from, at product, category or brand level.

A *basket* is the set of distinct items of one receipt's sale lines (quantity > 0; return
lines are left out) at one level: the product itself, its category or its brand. Items
without a category (or brand) are dropped at that level, and the number of transactions
counts only the baskets left with at least one item. The mining itself, and the measures'
definitions, are in :mod:`regulars.analytics.basket_rules`.
"""

from __future__ import annotations

from collections.abc import Hashable
from datetime import datetime
from typing import Literal

import polars as pl

from regulars.analytics.basket_rules import (
    ITEMSETS,
    RULES,
    Mined,
    min_count,
    mine_transactions,
    rule_metrics,
)
from regulars.analytics.frames import LINES, PRODUCTS, require

__all__ = [
    "BASKETS",
    "ITEMSETS",
    "LEVELS",
    "RULES",
    "Level",
    "Mined",
    "basket_items",
    "min_count",
    "mine",
    "mine_baskets",
    "mine_transactions",
    "rule_metrics",
    "transactions",
]

Level = Literal["product", "category", "brand"]
LEVELS: tuple[Level, ...] = ("product", "category", "brand")

#: Baskets already grouped: one row per receipt with the product ids bought on it.
BASKETS: dict[str, pl.DataType] = {
    "receipt_id": pl.Int64(),
    "store_id": pl.Int64(),
    "products": pl.List(pl.Int64()),
}


def _at_level(pairs: pl.DataFrame, products: pl.DataFrame | None, level: Level) -> pl.DataFrame:
    """(receipt_id, product_id) pairs as distinct (receipt_id, item) pairs at ``level``."""
    if level == "product":
        return pairs.select("receipt_id", pl.col("product_id").alias("item")).unique()
    if level not in LEVELS:
        raise ValueError(f"level must be one of {', '.join(LEVELS)}")
    if products is None:
        raise ValueError(f"the {level} level needs the products table")
    catalogue = require(
        products, {"product_id": PRODUCTS["product_id"], level: PRODUCTS[level]}, "products"
    )
    named = catalogue.select("product_id", pl.col(level).str.strip_chars().alias("item")).filter(
        pl.col("item").str.len_chars() > 0
    )
    return pairs.join(named, on="product_id", how="inner").select("receipt_id", "item").unique()


def basket_items(
    lines: pl.DataFrame,
    products: pl.DataFrame | None = None,
    *,
    level: Level = "product",
    since: datetime | None = None,
    until: datetime | None = None,
    store_id: int | None = None,
) -> pl.DataFrame:
    """One row per (receipt, item) at ``level``: the baskets to mine.

    ``since`` is inclusive and ``until`` exclusive; ``at`` and ``store_id`` are needed only
    when filtering on them. Product-level items are product ids; other levels need the
    ``products`` table and give the category's or brand's name.
    """
    wanted = ["receipt_id", "product_id", "quantity"]
    wanted += ["at"] if since is not None or until is not None else []
    wanted += ["store_id"] if store_id is not None else []
    frame = require(lines, {name: LINES[name] for name in wanted}, "lines")
    keep = pl.col("quantity") > 0
    if since is not None:
        keep &= pl.col("at") >= since
    if until is not None:
        keep &= pl.col("at") < until
    if store_id is not None:
        keep &= pl.col("store_id") == store_id
    return _at_level(frame.filter(keep), products, level)


def transactions(items: pl.DataFrame) -> list[list[Hashable]]:
    """The baskets of a (receipt_id, item) table as lists of items, for the miner."""
    grouped = items.group_by("receipt_id").agg(pl.col("item"))
    return grouped["item"].to_list()


def mine(
    lines: pl.DataFrame,
    products: pl.DataFrame | None = None,
    *,
    level: Level = "product",
    min_support: float,
    min_confidence: float,
    min_lift: float = 0.0,
    since: datetime | None = None,
    until: datetime | None = None,
    store_id: int | None = None,
    max_items: int | None = None,
    max_consequent: int | None = 1,
    min_baskets: int = 1,
) -> Mined:
    """Frequent itemsets and rules of the receipts in ``lines`` at ``level``, filtered."""
    items = basket_items(lines, products, level=level, since=since, until=until, store_id=store_id)
    return mine_transactions(
        transactions(items),
        min_support=min_support,
        min_confidence=min_confidence,
        min_lift=min_lift,
        max_items=max_items,
        max_consequent=max_consequent,
        min_baskets=min_baskets,
    )


def mine_baskets(
    baskets: pl.DataFrame,
    products: pl.DataFrame | None = None,
    *,
    level: Level = "product",
    min_support: float,
    min_confidence: float,
    min_lift: float = 0.0,
    store_id: int | None = None,
    max_items: int | None = None,
    max_consequent: int | None = 1,
    min_baskets: int = 1,
) -> Mined:
    """Like :func:`mine`, from a :data:`BASKETS` table: one row per receipt, already grouped.

    A product bought on two lines of a receipt may appear twice in its list: FP-growth
    counts an item once per basket whatever (pyfim reads each basket as a set).
    """
    wanted = ["receipt_id", "products"] + (["store_id"] if store_id is not None else [])
    frame = require(baskets, {name: BASKETS[name] for name in wanted}, "baskets")
    if store_id is not None:
        frame = frame.filter(pl.col("store_id") == store_id)
    if level == "product":
        found: list[list[Hashable]] = frame["products"].to_list()
    else:
        pairs = frame.select("receipt_id", pl.col("products").alias("product_id")).explode(
            "product_id"
        )
        found = transactions(_at_level(pairs, products, level))
    return mine_transactions(
        found,
        min_support=min_support,
        min_confidence=min_confidence,
        min_lift=min_lift,
        max_items=max_items,
        max_consequent=max_consequent,
        min_baskets=min_baskets,
    )
