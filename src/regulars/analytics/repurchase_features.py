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

from collections.abc import Sequence

import numpy as np
import polars as pl
from numpy.typing import NDArray

from regulars.analytics.repurchase_summary import (
    CATEGORIES,
    FAST_DECAY,
    HISTORY,
    ITEM_SIGNALS,
    SIGNAL_ITEMS,
    SLOW_DECAY,
    USER_SIGNALS,
    Summary,
    summarise,
)

__all__ = [
    "CATEGORIES",
    "HISTORY",
    "ITEM_SIGNALS",
    "USER_SIGNALS",
    "Summary",
    "candidates",
    "feature_frame",
    "feature_matrix",
    "summarise",
]


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
    # Missing values (NaN, null) are zeroed in :func:`feature_matrix`, not here: forty
    # fill expressions cost Polars more than the features themselves.
    frame = frame.with_columns(**{name: expr.cast(pl.Float64) for name, expr in features.items()})
    return frame, list(features)


def feature_matrix(frame: pl.DataFrame, names: Sequence[str]) -> NDArray[np.float64]:
    """The features of ``frame`` (from :func:`feature_frame`) as a matrix, missing values 0."""
    # writable: a frame whose columns Polars can hand over without a copy comes read-only
    matrix = frame.select(names).to_numpy(writable=True).astype(np.float64, copy=False)
    matrix[np.isnan(matrix)] = 0.0  # nulls arrive as NaN; infinities are kept
    return matrix
