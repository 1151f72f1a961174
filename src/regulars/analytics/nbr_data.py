"""Next-basket evaluation: readers for the public splits and the reality-check metrics.

Two splits are read, both from ``../shared/data`` in place:

* **Ta-Feng** as preprocessed by Li et al. (2023), *A Next Basket Recommendation Reality
  Check*: ``{user: [[-1], basket, …, basket, [-1]]}`` JSON files, the ``[-1]`` entries being
  sequence markers, not items. Baskets carry no dates, only their order.
* **dunnhumby-nbr**, the ReCANet splits of *The Complete Journey*: CSV files with
  ``user_id, basket_id, date, item_id`` (``date`` a day number). The future is one basket per
  user; only users that also have a history are evaluated.

Both become the same two tables: :data:`BASKETS` (the history, one row per item in a basket,
``basket`` the basket's 0-based position in the user's sequence and ``day`` its day number or
null) and :data:`FUTURE` (the items of each user's next basket).

The metrics are those of the reality-check paper: recall@k = |hits in the top k| / |future
basket|, NDCG@k with binary relevance (ideal DCG over min(k, |future basket|) positions) and
PHR@k, the share of users with at least one hit. Every user with a future basket counts,
whether or not they got a prediction.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import polars as pl

from regulars.analytics.frames import require

__all__ = [
    "BASKETS",
    "FUTURE",
    "RANKED",
    "Format",
    "NbrSplit",
    "detect_format",
    "nbr_metrics",
    "ranked_frame",
    "ranked_lists",
    "read_dunnhumby_baskets",
    "read_split",
    "read_tafeng",
]

Format = Literal["tafeng", "dunnhumby"]

#: A purchase history: one row per distinct item in each basket.
BASKETS: Mapping[str, pl.DataType] = {
    "user_id": pl.Int64(),
    "basket": pl.Int32(),  # 0-based position of the basket in the user's sequence
    "day": pl.Int32(),  # day number of the basket; null when the data has no dates
    "item_id": pl.Int64(),
}

#: The items of each user's next (held-out) basket.
FUTURE: Mapping[str, pl.DataType] = {"user_id": pl.Int64(), "item_id": pl.Int64()}

#: Ranked predictions: ``rank`` is 1 for the item predicted most likely.
RANKED: Mapping[str, pl.DataType] = {
    "user_id": pl.Int64(),
    "item_id": pl.Int64(),
    "rank": pl.Int32(),
}


@dataclass(frozen=True)
class NbrSplit:
    """A history and the next basket of the users to evaluate, in the common tables."""

    history: pl.DataFrame
    future: pl.DataFrame
    format: Format


def detect_format(path: Path) -> Format:
    """Tell a Ta-Feng JSON split from a dunnhumby CSV split by the file's suffix."""
    suffix = path.suffix.lower()
    if suffix == ".json":
        return "tafeng"
    if suffix == ".csv":
        return "dunnhumby"
    raise ValueError(f"{path}: cannot tell the format (expected .json or .csv)")


def _tafeng_rows(path: Path, users: int | None) -> pl.DataFrame:
    """Flatten a ``{user: [[-1], basket, …, [-1]]}`` file, dropping the ``-1`` markers."""
    with path.open("rb") as handle:
        raw: dict[str, list[list[int]]] = json.load(handle)
    user_col: list[int] = []
    basket_col: list[int] = []
    item_col: list[int] = []
    for n, (user, baskets) in enumerate(raw.items()):
        if users is not None and n >= users:
            break
        position = 0
        for basket in baskets:
            items = [item for item in dict.fromkeys(basket) if item >= 0]
            if not items:
                continue
            user_col.extend([int(user)] * len(items))
            basket_col.extend([position] * len(items))
            item_col.extend(items)
            position += 1
    return pl.DataFrame(
        {"user_id": user_col, "basket": basket_col, "item_id": item_col},
        schema={"user_id": pl.Int64, "basket": pl.Int32, "item_id": pl.Int64},
    )


def read_tafeng(
    history_path: Path, future_path: Path | None = None, *, users: int | None = None
) -> NbrSplit:
    """Read the reality-check Ta-Feng history (and future) JSON; ``users`` keeps the first N."""
    history = _tafeng_rows(history_path, users).with_columns(day=pl.lit(None, pl.Int32))
    history = require(history, BASKETS, "tafeng history")
    if future_path is None:
        future = pl.DataFrame(schema=dict(FUTURE))
    else:
        future = _tafeng_rows(future_path, None).select("user_id", "item_id")
        future = future.join(history.select("user_id").unique(), on="user_id", how="semi")
    return NbrSplit(
        history=history, future=require(future, FUTURE, "tafeng future"), format="tafeng"
    )


def read_dunnhumby_baskets(path: Path) -> pl.DataFrame:
    """Read a ReCANet dunnhumby basket file into :data:`BASKETS` (baskets ordered by day, id)."""
    raw = pl.read_csv(path, schema_overrides={"basket_id": pl.Int64, "item_id": pl.Int64})
    raw = raw.select(
        pl.col("user_id").cast(pl.Int64),
        pl.col("basket_id"),
        pl.col("date").cast(pl.Int32).alias("day"),
        pl.col("item_id"),
    ).unique(["user_id", "basket_id", "item_id"])
    order = (
        raw.group_by("user_id", "basket_id")
        .agg(pl.col("day").min())
        .sort("user_id", "day", "basket_id")
        .with_columns(basket=pl.int_range(pl.len(), dtype=pl.Int32).over("user_id"))
        .drop("day")
    )
    history = raw.join(order, on=["user_id", "basket_id"]).sort("user_id", "basket", "item_id")
    return require(history, BASKETS, f"dunnhumby baskets {path.name}")


def read_split(
    history_path: Path,
    future_path: Path | None = None,
    *,
    format: Format | None = None,
    users: int | None = None,
) -> NbrSplit:
    """Read a history (and future) in either format; the future keeps users with a history."""
    fmt = format or detect_format(history_path)
    if fmt == "tafeng":
        return read_tafeng(history_path, future_path, users=users)
    history = read_dunnhumby_baskets(history_path)
    if users is not None:
        keep = history.select("user_id").unique(maintain_order=True).head(users)
        history = history.join(keep, on="user_id", how="semi")
    if future_path is None:
        future = pl.DataFrame(schema=dict(FUTURE))
    else:
        future_rows = read_dunnhumby_baskets(future_path)
        # A future file holds one basket per user; should it hold more, the first is next.
        future = future_rows.filter(pl.col("basket") == 0).select("user_id", "item_id")
        future = future.join(history.select("user_id").unique(), on="user_id", how="semi")
    return NbrSplit(history=history, future=require(future, FUTURE, "future"), format=fmt)


def ranked_frame(lists: Mapping[int, Sequence[int]]) -> pl.DataFrame:
    """Turn ``{user: [item, …]}`` (best first) into :data:`RANKED`."""
    users = [user for user, items in lists.items() for _ in items]
    items = [item for seq in lists.values() for item in seq]
    ranks = [rank for seq in lists.values() for rank in range(1, len(seq) + 1)]
    return pl.DataFrame(
        {"user_id": users, "item_id": items, "rank": ranks},
        schema={"user_id": pl.Int64, "item_id": pl.Int64, "rank": pl.Int32},
    )


def ranked_lists(ranked: pl.DataFrame) -> dict[str, list[int]]:
    """Turn :data:`RANKED` into the reality-check prediction file shape ``{"user": [items]}``."""
    ranked = require(ranked, RANKED, "predictions")
    grouped = ranked.sort("user_id", "rank").group_by("user_id", maintain_order=True).agg("item_id")
    return {
        str(user): [int(item) for item in items]
        for user, items in zip(grouped["user_id"], grouped["item_id"], strict=True)
    }


def nbr_metrics(
    ranked: pl.DataFrame, future: pl.DataFrame, ks: Sequence[int] = (10, 20)
) -> dict[str, float]:
    """Recall@k, NDCG@k and PHR@k averaged over every user with a future basket."""
    ranked = require(ranked, RANKED, "predictions")
    truth = require(future, FUTURE, "future").unique()
    sizes = truth.group_by("user_id").agg(pl.len().alias("size"))
    hits = ranked.join(truth, on=["user_id", "item_id"], how="inner")
    result: dict[str, float] = {}
    users = sizes.height
    if users == 0:
        raise ValueError("no user has a future basket to evaluate against")
    for k in ks:
        ideal = [0.0]
        for position in range(1, k + 1):
            ideal.append(ideal[-1] + 1.0 / math.log2(position + 1))
        per_user = (
            hits.filter(pl.col("rank") <= k)
            .group_by("user_id")
            .agg(
                pl.len().alias("hits"),
                (1.0 / (pl.col("rank").cast(pl.Float64) + 1.0).log(2)).sum().alias("dcg"),
            )
        )
        scored = sizes.join(per_user, on="user_id", how="left").with_columns(
            pl.col("hits").fill_null(0),
            pl.col("dcg").fill_null(0.0),
            pl.col("size")
            .clip(upper_bound=k)
            .replace_strict(list(range(k + 1)), ideal, return_dtype=pl.Float64)
            .alias("idcg"),
        )
        result[f"recall@{k}"] = float((scored["hits"] / scored["size"]).sum()) / users
        result[f"ndcg@{k}"] = float((scored["dcg"] / scored["idcg"]).sum()) / users
        result[f"phr@{k}"] = float((scored["hits"] > 0).sum()) / users
    return result
