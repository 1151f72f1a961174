"""Personal lists on frames: predicted needs matched with the cycle's deals, then chosen.

The same decisions as the cycle job's (:mod:`regulars.offers.candidates` and
:func:`regulars.offers.rules.choose`), written over tables so that a whole membership is
handled at once, on the local engine here and on Spark in
:mod:`regulars.analytics.engines.spark_lists`:

1. **Best offer per item** — among the deals on the item itself, its brand or its category,
   the largest *planned* discount (the terms applied to
   :data:`~regulars.offers.rules.PLANNED_UNITS` units, or to one whole bundle for
   buy-X-get-Y), rounded down to the cent and never above the deal's budget left; without
   any, the store's own percentage. Ties go to the most specific deal (product, then brand,
   then category), then to the lowest deal id.
2. **The list** — each member's candidates by score (ties by item id), skipping an item
   whose category already has ``per_category`` items or whose discount would overrun what
   is left of the member's budget, until ``length`` items.

Money is counted in integer cents throughout, so both engines agree to the cent.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import polars as pl
from numpy.typing import NDArray

from regulars.analytics.frames import require
from regulars.offers.rules import PLANNED_UNITS

__all__ = [
    "CATALOGUE",
    "DEALS",
    "LISTS",
    "NEEDS",
    "ListRules",
    "build_lists",
    "choose_mask",
    "item_offers",
]

#: What each item is, for matching: a product deal names the item id, a brand deal the
#: brand, a category deal the category; ``unit_price`` is the shelf price.
CATALOGUE: Mapping[str, pl.DataType] = {
    "item_id": pl.Int64(),
    "brand": pl.String(),
    "category": pl.String(),
    "unit_price": pl.Float64(),
}

#: The cycle's deals (active, with budget left), as :class:`regulars.offers.models.Deal`.
DEALS: Mapping[str, pl.DataType] = {
    "deal_id": pl.Int64(),
    "target": pl.String(),  # product | brand | category
    "target_value": pl.String(),
    "kind": pl.String(),  # percent | amount | price | bxgy
    "value": pl.Float64(),  # percent, or money per unit / price point
    "buy_qty": pl.Int64(),
    "get_qty": pl.Int64(),
    "budget_left": pl.Float64(),  # null: no budget
}

#: Predicted needs: the :data:`~regulars.analytics.repurchase.PREDICTIONS` keys and score.
NEEDS: Mapping[str, pl.DataType] = {
    "user_id": pl.Int64(),
    "item_id": pl.Int64(),
    "score": pl.Float64(),
}

#: What :func:`build_lists` returns: one row per list item, in list order.
LISTS: Mapping[str, pl.DataType] = {
    "user_id": pl.Int64(),
    "position": pl.Int32(),
    "item_id": pl.Int64(),
    "deal_id": pl.Int64(),  # null: the store's discount
    "category": pl.String(),
    "discount_cents": pl.Int64(),
    "score": pl.Float64(),
}

TARGET_ORDER = {"product": 0, "brand": 1, "category": 2}


@dataclass(frozen=True)
class ListRules:
    """A cycle's list settings (defaults: those of a new store's ``ListSettings``)."""

    length: int = 10
    per_category: int = 3
    budget: float = 20.0  # the member's discount budget, unless ``budgets`` gives one
    store_discount: float = 5.0  # percent on needs without a deal; 0 for none


def _cents(value: pl.Expr) -> pl.Expr:
    """Money (or a percentage) as an exact integer number of hundredths."""
    return (value * 100.0).round(0).cast(pl.Int64)


def _planned_cents(kind: pl.Expr, value: pl.Expr, buy: pl.Expr, get: pl.Expr) -> pl.Expr:
    """The planned discount in cents of terms on an item of ``price_cents`` (rounded down).

    ``value`` is in hundredths: basis points for a percentage, cents for money.
    """
    price = pl.col("price_cents")
    units = pl.when(kind == "bxgy").then(buy + get).otherwise(PLANNED_UNITS)
    gross = price * units
    off = (
        pl.when(kind == "percent")
        .then((gross * value) // 10_000)
        .when(kind == "amount")
        .then(value * units)
        .when(kind == "price")
        .then((price - value) * units)
        .otherwise(get * price)  # one bundle: buy + get units, get of them free
    )
    return pl.min_horizontal(pl.max_horizontal(off, pl.lit(0)), gross)


def item_offers(
    catalogue: pl.DataFrame, deals: pl.DataFrame, store_discount: float
) -> pl.DataFrame:
    """The best offer for every priced item: ``item_id, category, deal_id, discount_cents``.

    Items no deal covers get the store's discount (``deal_id`` null) when it is positive;
    items with no positive offer are left out.
    """
    catalogue = require(catalogue, CATALOGUE, "catalogue").filter(pl.col("unit_price") > 0)
    deals = require(deals, DEALS, "deals")
    items = catalogue.with_columns(price_cents=_cents(pl.col("unit_price")))
    keys = {
        "product": pl.col("item_id").cast(pl.String),
        "brand": pl.col("brand"),
        "category": pl.col("category"),
    }
    matched = pl.concat(
        [
            items.select("item_id", "price_cents", pl.lit(target).alias("target"), key=keys[target])
            .drop_nulls("key")
            .join(
                deals.filter(pl.col("target") == target),
                left_on=["target", "key"],
                right_on=["target", "target_value"],
            )
            .drop("key")
            for target in TARGET_ORDER
        ]
    )
    planned = _planned_cents(
        pl.col("kind"),
        _cents(pl.col("value")),
        pl.col("buy_qty").fill_null(1),
        pl.col("get_qty").fill_null(1),
    )
    left = _cents(pl.col("budget_left"))
    best = (
        matched.with_columns(
            discount_cents=pl.when(left.is_null())
            .then(planned)
            .otherwise(pl.min_horizontal(planned, left)),
            order=pl.col("target").replace_strict(TARGET_ORDER, return_dtype=pl.Int32),
        )
        .filter(pl.col("discount_cents") > 0)
        .sort(
            ["item_id", "discount_cents", "order", "deal_id"],
            descending=[False, True, False, False],
        )
        .unique("item_id", keep="first")
        .select("item_id", "deal_id", "discount_cents")
    )
    store = items.join(best, on="item_id", how="anti").with_columns(
        deal_id=pl.lit(None, pl.Int64),
        discount_cents=_planned_cents(
            pl.lit("percent"), pl.lit(round(store_discount * 100)), pl.lit(1), pl.lit(1)
        ),
    )
    store = store.filter(pl.col("discount_cents") > 0) if store_discount > 0 else store.head(0)
    return (
        pl.concat([best, store.select("item_id", "deal_id", "discount_cents")])
        .join(catalogue.select("item_id", "category"), on="item_id")
        .select("item_id", "category", "deal_id", "discount_cents")
        .sort("item_id")
    )


def choose_mask(
    users: NDArray[np.int64],
    categories: NDArray[np.int64],
    discounts: NDArray[np.int64],
    budgets: NDArray[np.int64],
    *,
    length: int,
    per_category: int,
) -> NDArray[np.bool_]:
    """Which candidates make the lists, for rows grouped by user in choosing order.

    ``categories`` are codes (any integer per distinct category, one for "none"),
    ``budgets`` each row's member's budget in cents. The members are walked in step: the
    n-th candidate of every member is decided together, so the loop runs as many times as
    the longest candidate list, not once per row.
    """
    n = users.size
    chosen = np.zeros(n, dtype=np.bool_)
    if n == 0:
        return chosen
    starts = np.flatnonzero(np.r_[True, users[1:] != users[:-1]])
    member = np.repeat(np.arange(starts.size), np.diff(np.r_[starts, n]))
    position = np.arange(n) - starts[member]
    left = budgets[starts].astype(np.int64)
    count = np.zeros(starts.size, dtype=np.int64)
    # one counter per (member, category)
    codes = categories.astype(np.int64) - int(categories.min())
    _keys, pair = np.unique(member * (int(codes.max()) + 1) + codes, return_inverse=True)
    pair = pair.ravel()
    per = np.zeros(int(pair.max()) + 1, dtype=np.int64)
    order = np.argsort(position, kind="stable")
    bounds = np.flatnonzero(np.r_[True, np.diff(position[order]) != 0, True])
    for start, stop in itertools.pairwise(bounds):
        rows = order[start:stop]
        who = member[rows]
        cost = discounts[rows]
        ok = (
            (count[who] < length)
            & (per[pair[rows]] < per_category)
            & (cost > 0)
            & (cost <= left[who])
        )
        take = rows[ok]
        chosen[take] = True
        left[who[ok]] -= cost[ok]
        count[who[ok]] += 1
        per[pair[take]] += 1
    return chosen


def build_lists(
    needs: pl.DataFrame,
    catalogue: pl.DataFrame,
    deals: pl.DataFrame,
    rules: ListRules | None = None,
    *,
    budgets: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """Every member's list (:data:`LISTS`) from their predicted needs and the cycle's deals.

    ``budgets`` (``user_id, budget``) overrides ``rules.budget`` per member (the base budget
    times their value tier's factor, in the cycle job).
    """
    rules = rules or ListRules()
    needs = require(needs, NEEDS, "needs")
    offers = item_offers(catalogue, deals, rules.store_discount)
    candidates = needs.join(offers, on="item_id").with_columns(
        budget_cents=pl.lit(round(rules.budget * 100), pl.Int64),
        category_code=pl.col("category").fill_null("").rank("dense").cast(pl.Int64)
        * pl.col("category").is_not_null().cast(pl.Int64),
    )
    if budgets is not None:
        own = require(budgets, {"user_id": pl.Int64(), "budget": pl.Float64()}, "budgets")
        candidates = candidates.join(
            own.select("user_id", per=_cents(pl.col("budget"))), on="user_id", how="left"
        ).with_columns(budget_cents=pl.coalesce("per", "budget_cents"))
    candidates = candidates.sort(
        ["user_id", "score", "item_id"], descending=[False, True, False]
    ).unique(["user_id", "item_id"], keep="first", maintain_order=True)
    mask = choose_mask(
        candidates["user_id"].to_numpy(),
        candidates["category_code"].to_numpy(),
        candidates["discount_cents"].to_numpy(),
        candidates["budget_cents"].to_numpy(),
        length=rules.length,
        per_category=rules.per_category,
    )
    return (
        candidates.filter(pl.Series(mask))
        .with_columns(position=pl.int_range(1, pl.len() + 1, dtype=pl.Int32).over("user_id"))
        .select(list(LISTS))
    )
