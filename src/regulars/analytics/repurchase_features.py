"""What the repurchase model knows of a history: summaries, candidates and their features.

A history is one row per distinct item in each basket (:data:`HISTORY`). It is summarised
once into per-(user, item), per-item, per-user and, when the catalogue is known, per-(user,
category) tables; the candidates of a user are their own past items plus the most popular
items (and, with household signals, the most popular items of their household's signals),
and every candidate gets one row of numeric features for the scorer in
:mod:`regulars.analytics.repurchase`.

Time is counted two ways. *Visits* (basket positions) always exist; *days* exist when the
history is dated. The features measure time up to each user's expected next visit (their
last visit plus their usual gap), so a held-out basket and a real next basket look alike;
the reasons quote days up to ``as_of`` (by default the last day of the history).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

import polars as pl

from regulars.analytics.frames import require

__all__ = [
    "CATEGORIES",
    "HISTORY",
    "ITEM_SIGNALS",
    "USER_SIGNALS",
    "Summary",
    "candidates",
    "feature_frame",
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

    def collected(self) -> Summary:
        """The same summary with every table computed once (in one parallel query)."""
        names = [
            name
            for name in ("pairs", "items", "users", "user_categories", "categories")
            if getattr(self, name) is not None
        ]
        frames = pl.collect_all([getattr(self, name) for name in names])
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


def _pairs(history: pl.LazyFrame, users: pl.LazyFrame, *, dated: bool) -> pl.LazyFrame:
    """Per (user, item): how often, when first and last, the spread of the gaps, decayed counts."""
    visits = users.select("user_id", "visits")
    ago = pl.col("visits") - 1 - pl.col("basket").cast(pl.Int64)
    rows = history.join(visits, on="user_id")
    if dated:
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
) -> Summary:
    """Summarise ``history`` (:data:`HISTORY`) for features and reasons (lazily).

    Item facts (popularity, propensity) always come from every user; the per-user and
    per-(user, item) tables only for ``users`` (a ``user_id`` frame; everyone by default),
    which is what makes scoring a few users of a large history cheap.
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
    pairs = _pairs(mine, per_user, dated=dated)
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


def candidates(summary: Summary, users: pl.DataFrame, n_popular: int) -> pl.LazyFrame:
    """The items worth scoring for each user — their own, the popular, their household's.

    Own items come with their (user, item) facts; the others have them null.
    """
    who = users.lazy()
    own = summary.pairs.join(who, on="user_id", how="semi")
    popular = summary.items.filter(pl.col("popularity_rank") <= n_popular).select("item_id")
    others = [who.join(popular, how="cross")]
    if summary.user_signals is not None and summary.item_signals is not None:
        signal_items = (
            summary.item_signals.join(
                summary.items.select("item_id", "popularity_rank"), on="item_id"
            )
            .sort("popularity_rank")
            .group_by("signal", maintain_order=True)
            .head(SIGNAL_ITEMS)
        )
        others.append(
            summary.user_signals.join(who, on="user_id", how="semi")
            .join(signal_items, on="signal")
            .select("user_id", "item_id")
        )
    new = others[0] if len(others) == 1 else pl.concat(others).unique()
    new = new.join(own, on=["user_id", "item_id"], how="anti")
    # the facts of items never bought are null; typed like the own rows' for the concat
    schema = own.collect_schema()
    new = new.with_columns(
        [
            pl.lit(None, dtype).alias(name)
            for name, dtype in schema.items()
            if name not in new.collect_schema()
        ]
    )
    return pl.concat([own, new.select(schema.names())]).drop("visits")


def _category_columns(summary: Summary, frame: pl.LazyFrame) -> pl.LazyFrame:
    """Add the user's visits holding the candidate's category (0 when unknown)."""
    if summary.categories is None or summary.user_categories is None:
        return frame.with_columns(
            category=pl.lit(None, pl.String), category_visits=pl.lit(0, pl.Int64)
        )
    return (
        frame.join(summary.categories, on="item_id", how="left")
        .join(summary.user_categories, on=["user_id", "category"], how="left")
        .with_columns(pl.col("category_visits").fill_null(0))
    )


def _signal_columns(summary: Summary, frame: pl.LazyFrame) -> pl.LazyFrame:
    """Add the household signal the candidate serves for this user, if any."""
    if summary.user_signals is None or summary.item_signals is None:
        return frame.with_columns(signal=pl.lit(None, pl.String))
    matches = (
        summary.user_signals.join(summary.item_signals, on="signal")
        .group_by("user_id", "item_id")
        .agg(pl.col("signal").min())
    )
    return frame.join(matches, on=["user_id", "item_id"], how="left")


def _next_visits(users: pl.LazyFrame) -> pl.LazyFrame:
    """Per user: visits, basket size, repeat share and the day their next visit is expected.

    The next visit is the last one plus the user's mean gap between visits; users with one
    visit get the median of everyone's gaps (7 days when nobody has two visits).
    """
    gap = (pl.col("last_day") - pl.col("first_day")).cast(pl.Float64) / (pl.col("visits") - 1)
    usual = gap.filter(pl.col("visits") > 1).median().fill_null(7.0)
    return users.select(
        "user_id",
        "visits",
        "basket_size",
        "repeat_share",
        next_visit_day=pl.col("last_day").cast(pl.Float64)
        + pl.when(pl.col("visits") > 1).then(gap).otherwise(usual),
    )


def feature_frame(summary: Summary, pairs: pl.LazyFrame) -> tuple[pl.LazyFrame, list[str]]:
    """Join the candidates (from :func:`candidates`) to their facts and compute the features.

    Returns the (lazy) frame — keys, the facts reasons quote, then the features — and the
    feature names, in a fixed order that depends only on what the summary knows (dates,
    categories, household signals), so a model fitted on one summary scores another of the
    same kind.
    """
    # Every candidate is an item of the history, so the propensity is never missing; should
    # one be, it gets the lowest, as in the Spark twin.
    floor = summary.items.select(pl.col("propensity").min().alias("floor"))
    frame = (
        pairs.join(_next_visits(summary.users), on="user_id", how="left")
        .join(
            summary.items.select("item_id", "baskets", "buyers", "propensity"),
            on="item_id",
            how="left",
        )
        .join(floor, how="cross")
        .with_columns(
            pl.col("count").fill_null(0),
            pl.col("baskets").fill_null(0),
            pl.col("buyers").fill_null(0),
            pl.col("propensity").fill_null(pl.col("floor")),
        )
        .drop("floor")
    )
    frame = _signal_columns(summary, _category_columns(summary, frame))
    visits = pl.col("visits").cast(pl.Float64)
    count = pl.col("count").cast(pl.Float64)
    own = (pl.col("count") > 0).cast(pl.Float64)
    new = 1.0 - own
    again = (pl.col("count") >= 2).cast(pl.Float64)
    visits_since = (visits - 1.0 - pl.col("last_visit").cast(pl.Float64)).fill_null(0.0)
    visit_gap = (pl.col("last_visit") - pl.col("first_visit")).cast(pl.Float64) / (count - 1.0)
    visit_due = ((visits_since + 1.0) / visit_gap).log().clip(-3.0, 3.0)
    visit_due = pl.when(pl.col("count") >= 2).then(visit_due).otherwise(0.0)
    # Popularity per user of the history, so that it reads the same on a sample of users.
    popularity = ((pl.col("baskets").cast(pl.Float64) + 0.5) / summary.population).log()
    # The features, named; ``own`` × / ``new`` × split a signal between the user's own items
    # and items they never bought, whose scores live on different scales.
    features: dict[str, pl.Expr] = {
        "own": own,
        "log_count": count.log1p(),
        "share": (count / visits).fill_null(0.0),
        "share_x_log_visits": (count / visits * visits.log()).fill_null(0.0),
        "recent_fast": (pl.col("fast") * (1.0 - FAST_DECAY)).fill_null(0.0),
        "recent_slow": (pl.col("slow") * (1.0 - SLOW_DECAY)).fill_null(0.0),
        "log_visits_since": visits_since.log1p() * own,
        "again": again,
        "visit_due": visit_due,
        "visit_due_sq": visit_due**2,
        "own_x_propensity": pl.col("propensity").log() * own,
        "own_x_log_visits": visits.log() * own,
        "own_x_repeat_share": pl.col("repeat_share") * own,
        "log_popularity": popularity,
        "new_x_log_popularity": popularity * new,
        "new_x_log_basket_size": pl.col("basket_size").log() * new,
    }
    if summary.dated:
        # Time is measured to the user's expected next visit (their last visit plus their
        # usual gap between visits), not to a calendar date: a held-out last basket and the
        # real next basket are then seen from the same place, whenever they happened.
        days_since = (pl.col("next_visit_day") - pl.col("last_day").cast(pl.Float64)).clip(
            lower_bound=0.0
        )
        day_gap = (pl.col("last_day") - pl.col("first_day")).cast(pl.Float64) / (count - 1.0)
        day_due = ((days_since + 1.0) / day_gap.clip(lower_bound=1.0)).log().clip(-4.0, 4.0)
        day_due = pl.when(pl.col("count") >= 2).then(day_due).otherwise(0.0)
        features |= {
            "log_days_since": (days_since.log1p() * own).fill_null(0.0),
            "day_due": day_due.fill_null(0.0),
            "day_due_sq": (day_due**2).fill_null(0.0),
            "log_day_gap": pl.when(pl.col("count") >= 2).then(day_gap.log1p()).otherwise(0.0),
        }
    if summary.categories is not None:
        category_share = pl.col("category_visits").cast(pl.Float64) / visits
        features |= {
            "category_share": category_share,
            "new_x_category_share": category_share * new,
        }
    if summary.user_signals is not None and summary.item_signals is not None:
        features["household"] = pl.col("signal").is_not_null().cast(pl.Float64)
    frame = frame.with_columns(
        **{
            name: expr.cast(pl.Float64).fill_nan(0.0).fill_null(0.0)
            for name, expr in features.items()
        }
    )
    return frame, list(features)
