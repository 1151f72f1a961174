"""What the repurchase model knows of a history: per-(user, item), item and user summaries.

A history is one row per distinct item in each basket (:data:`HISTORY`). It is summarised
once into per-(user, item), per-item, per-user and, when the catalogue is known, per-(user,
category) tables, which :mod:`regulars.analytics.repurchase_features` turns into
candidates and features.

Time is counted two ways. *Visits* (basket positions) always exist; *days* exist when the
history is dated.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import polars as pl

from regulars.analytics.frames import require

if TYPE_CHECKING:
    from polars._typing import EngineType

__all__ = [
    "CATEGORIES",
    "FAST_DECAY",
    "HISTORY",
    "ITEM_SIGNALS",
    "PROPENSITY_PRIOR",
    "SIGNAL_ITEMS",
    "SLOW_DECAY",
    "USER_SIGNALS",
    "Summary",
    "summarise",
]

#: A purchase history: one row per distinct item in each basket.
HISTORY: Mapping[str, pl.DataType] = {
    "user_id": pl.Int64(),
    "basket": pl.Int32(),  # the basket's position in the user's sequence: 0, 1, 2 … no gaps
    "day": pl.Int32(),  # day number of the basket, null when the history is undated
    "item_id": pl.Int64(),
}

#: The category of each item, where the catalogue is known.
CATEGORIES: Mapping[str, pl.DataType] = {"item_id": pl.Int64(), "category": pl.String()}

#: Household signals inferred for users (baby, pet …) and the items that serve them.
USER_SIGNALS: Mapping[str, pl.DataType] = {"user_id": pl.Int64(), "signal": pl.String()}
ITEM_SIGNALS: Mapping[str, pl.DataType] = {"item_id": pl.Int64(), "signal": pl.String()}

FAST_DECAY = 0.5  # weight of a visit k visits back: recent habits
SLOW_DECAY = 0.8  # … and the longer memory
PROPENSITY_PRIOR = 5.0  # pseudo-opportunities pulling an item's repurchase rate to the mean
SIGNAL_ITEMS = 5  # popular items per household signal added as candidates


@dataclass(frozen=True)
class Summary:
    """A history boiled down to what features and reasons need.

    The tables are lazy: building a summary runs nothing, and the features of the
    candidates are computed in one Polars query (which shares the common parts) when
    they are collected. :meth:`collected` runs the tables once when several queries will
    read them.
    """

    pairs: pl.LazyFrame  # user × item: count, first/last visit and day, gaps, decayed counts
    items: pl.LazyFrame  # item: baskets, buyers, repurchase propensity, popularity rank
    users: pl.LazyFrame  # user: visits, basket size, repeat share, first and last day
    population: int  # users in the whole history
    user_categories: pl.LazyFrame | None  # user × category: visits holding the category
    categories: pl.LazyFrame | None  # item → category
    user_signals: pl.LazyFrame | None
    item_signals: pl.LazyFrame | None
    as_of: int | None  # the day "now" is, for dated histories
    dated: bool

    def collected(self, engine: EngineType = "auto") -> Summary:
        """The same summary with every table computed once (in one parallel query)."""
        names = [
            name
            for name in ("pairs", "items", "users", "user_categories", "categories")
            if getattr(self, name) is not None
        ]
        frames = pl.collect_all([getattr(self, name) for name in names], engine=engine)
        done: dict[str, Any] = {
            name: frame.lazy() for name, frame in zip(names, frames, strict=True)
        }
        return replace(self, **done)


def _users(history: pl.LazyFrame) -> pl.LazyFrame:
    """Per user: visits, mean basket size, first and last day.

    Baskets are numbered 0, 1, … per user (the :data:`HISTORY` contract), so the visits are
    the last basket number plus one and the mean basket size is lines ÷ visits.
    """
    return (
        history.group_by("user_id")
        .agg(
            (pl.col("basket").max() + 1).cast(pl.Int64).alias("visits"),
            (pl.len() / (pl.col("basket").max() + 1)).alias("basket_size"),
            pl.col("item_id").n_unique().alias("distinct_items"),
            pl.len().alias("lines"),
            pl.col("day").min().alias("first_day"),
            pl.col("day").max().alias("last_day"),
        )
        .with_columns(
            # the share of basket lines that repeat an item bought before
            repeat_share=(pl.col("lines") - pl.col("distinct_items") + 1.0)
            / (pl.col("lines") + 2.0)
        )
    )


def _pairs(
    history: pl.LazyFrame, users: pl.LazyFrame, *, dated: bool, spread: bool
) -> pl.LazyFrame:
    """Per (user, item): how often, when first and last, the spread of the gaps, decayed counts.

    The spread (``gap_day_sd``) is only quoted by the reasons; without ``spread`` it is null
    and the sort it needs, the dearest step of the summary, is skipped.
    """
    visits = users.select("user_id", "visits")
    ago = pl.col("visits") - 1 - pl.col("basket").cast(pl.Int64)
    rows = history.join(visits, on="user_id")
    if dated and spread:
        # Shift-and-compare on sorted rows instead of a window over (user, item): the same
        # gaps, several times faster.
        rows = rows.sort("user_id", "item_id", "basket").with_columns(
            gap_day=pl.when(
                (pl.col("user_id") == pl.col("user_id").shift())
                & (pl.col("item_id") == pl.col("item_id").shift())
            ).then(pl.col("day") - pl.col("day").shift())
        )
    else:
        rows = rows.with_columns(gap_day=pl.lit(None, pl.Int32))
    return rows.group_by("user_id", "item_id").agg(
        pl.len().cast(pl.Int64).alias("count"),
        pl.col("basket").min().alias("first_visit"),
        pl.col("basket").max().alias("last_visit"),
        pl.col("day").min().alias("first_day"),
        pl.col("day").max().alias("last_day"),
        pl.col("gap_day").std().alias("gap_day_sd"),
        pl.lit(FAST_DECAY).pow(ago).sum().alias("fast"),
        pl.lit(SLOW_DECAY).pow(ago).sum().alias("slow"),
        pl.col("visits").first(),
    )


def _light_pairs(history: pl.LazyFrame) -> pl.LazyFrame:
    """Per (user, item) of everyone: count, first visit and the user's visits."""
    visits = history.group_by("user_id").agg(
        (pl.col("basket").max() + 1).cast(pl.Int64).alias("visits")
    )
    return (
        history.group_by("user_id", "item_id")
        .agg(pl.len().cast(pl.Int64).alias("count"), pl.col("basket").min().alias("first_visit"))
        .join(visits, on="user_id")
    )


def _items(pairs: pl.LazyFrame) -> pl.LazyFrame:
    """Per item: baskets, buyers and the propensity to be bought again once bought.

    The propensity is the share of later visits, after a user's first purchase, that hold
    the item again, over all users, shrunk towards the overall rate with a few
    pseudo-opportunities so that rarely bought items are not ranked on two observations.
    """
    per_item = pairs.group_by("item_id").agg(
        pl.col("count").sum().alias("baskets"),
        pl.len().alias("buyers"),
        (pl.col("count") - 1).sum().alias("repeats"),
        (pl.col("visits") - 1 - pl.col("first_visit").cast(pl.Int64)).sum().alias("chances"),
    )
    overall = pl.col("repeats").sum() / pl.col("chances").sum().clip(lower_bound=1)
    return (
        per_item.with_columns(
            propensity=(pl.col("repeats") + PROPENSITY_PRIOR * overall)
            / (pl.col("chances") + PROPENSITY_PRIOR)
        )
        .sort(["baskets", "item_id"], descending=[True, False])
        .with_columns(popularity_rank=pl.int_range(1, pl.len() + 1, dtype=pl.Int64))
    )


def summarise(
    history: pl.DataFrame,
    *,
    users: pl.DataFrame | None = None,
    as_of: int | None = None,
    categories: pl.DataFrame | None = None,
    user_signals: pl.DataFrame | None = None,
    item_signals: pl.DataFrame | None = None,
    spread: bool = True,
) -> Summary:
    """Summarise ``history`` (:data:`HISTORY`) for features and reasons (lazily).

    Item facts (popularity, propensity) always come from every user; the per-user and
    per-(user, item) tables only for ``users`` (a ``user_id`` frame; everyone by default),
    which is what makes scoring a few users of a large history cheap. ``spread=False``
    leaves out the spread of the gaps between purchases, which only the reasons quote.
    """
    history = require(history, HISTORY, "history")
    dated = history["day"].null_count() == 0 and history.height > 0
    population = history["user_id"].n_unique()
    if as_of is None and dated:
        as_of = int(history["day"].max())  # type: ignore[arg-type]
    everyone = history.lazy()
    mine = everyone if users is None else everyone.join(users.lazy(), on="user_id", how="semi")
    per_user = _users(mine)
    user_categories = None
    item_categories = None
    if categories is not None:
        item_categories = require(categories, CATEGORIES, "categories").unique("item_id").lazy()
        user_categories = (
            mine.join(item_categories, on="item_id")
            .group_by("user_id", "category")
            .agg(pl.col("basket").n_unique().cast(pl.Int64).alias("category_visits"))
        )
    pairs = _pairs(mine, per_user, dated=dated, spread=spread)
    return Summary(
        pairs=pairs,
        items=_items(pairs if users is None else _light_pairs(everyone)),
        users=per_user,
        population=population,
        user_categories=user_categories,
        categories=item_categories,
        user_signals=None
        if user_signals is None
        else require(user_signals, USER_SIGNALS, "user signals").lazy(),
        item_signals=None
        if item_signals is None
        else require(item_signals, ITEM_SIGNALS, "item signals").lazy(),
        as_of=as_of if dated else None,
        dated=dated,
    )
