"""The fit's learning set — candidates, labels and features — computed with NumPy on codes.

Fitting summarises a bounded set of learners (``RepurchaseParams.learn_users``) and computes
the features of a sample of their candidates. On sets that small, Polars' cost per query
(planning, handing work to its threads) outweighed the work itself, so this module computes
the same summaries, candidates and features as
:mod:`~regulars.analytics.repurchase_summary` and
:mod:`~regulars.analytics.repurchase_features` — formula for formula, as the tests check —
from one sort of the learners' rows, with ``reduceat`` over the sorted runs and
``bincount`` over integer codes of users and items. Prediction stays in Polars: its facts
are what the reasons quote, and the Spark twin recomputes them there.

The work is kept to what the sample needs: the facts of a user's own items that only
features read (last visit, days, decayed counts) are computed for the sampled candidates
only, and the row arrays are 32-bit, which halves the memory the fit touches.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl
from numpy.typing import NDArray

from regulars.analytics.frames import require
from regulars.analytics.repurchase_summary import (
    CATEGORIES,
    FAST_DECAY,
    ITEM_SIGNALS,
    PROPENSITY_PRIOR,
    SIGNAL_ITEMS,
    SLOW_DECAY,
    USER_SIGNALS,
)

__all__ = ["LearningSet", "learning_set", "uniform"]

Ints = NDArray[np.int64]
Int32s = NDArray[np.int32]
Floats = NDArray[np.float64]
Flags = NDArray[np.bool_]


@dataclass(frozen=True)
class LearningSet:
    """The kept candidates of the learners, with their labels and features."""

    names: tuple[str, ...]  # as :func:`~regulars.analytics.repurchase_features.feature_frame`
    matrix: Floats  # one row per feature, one column per kept candidate; missing values 0
    labels: Floats  # 1.0 when the item is in the user's target basket
    user_ids: Ints
    item_ids: Ints


def uniform(users: Ints, items: Ints, seed: int) -> Floats:
    """A uniform draw in [0, 1) per (user, item), the same whatever the rows' order.

    The pair and the seed are mixed with SplitMix64 (Steele, Lea & Flood 2014), so the
    sample of negatives does not depend on how the rows happen to be ordered.
    """
    with np.errstate(over="ignore"):
        z = users.astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15)
        z ^= items.astype(np.uint64) + np.uint64(seed) * np.uint64(0xD1B54A32D192ED03)
        z ^= z >> np.uint64(30)
        z *= np.uint64(0xBF58476D1CE4E5B9)
        z ^= z >> np.uint64(27)
        z *= np.uint64(0x94D049BB133111EB)
        z ^= z >> np.uint64(31)
    return (z >> np.uint64(11)).astype(np.float64) / float(1 << 53)


def _lookup(sorted_keys: Ints, keys: Ints) -> tuple[Ints, Flags]:
    """Positions of ``keys`` in ``sorted_keys`` (unique, ascending) and whether found."""
    if sorted_keys.size == 0:
        return np.zeros(keys.size, dtype=np.int64), np.zeros(keys.size, dtype=bool)
    at = np.minimum(np.searchsorted(sorted_keys, keys), sorted_keys.size - 1)
    return at, sorted_keys[at] == keys


def _among(few: Ints, many: Ints) -> Flags:
    """Which of ``many`` (unique, ascending) are in ``few``: the few are looked up."""
    flags = np.zeros(many.size, dtype=bool)
    at, found = _lookup(many, few)
    flags[at[found]] = True
    return flags


def _unique(values: Ints) -> Ints:
    """The distinct values, ascending: ``np.unique`` by sorting.

    NumPy 2's ``np.unique`` goes through a hash table, measured ten times slower here.
    """
    values = np.sort(values)
    if values.size < 2:
        return values
    keep = np.empty(values.size, dtype=bool)
    keep[0] = True
    np.not_equal(values[1:], values[:-1], out=keep[1:])
    return values[keep]


def _distinct(ids: Ints) -> Ints:
    """The distinct ids, ascending; without a sort when they span a compact range."""
    if ids.size == 0:
        return ids
    low = int(ids.min())
    span = int(ids.max()) - low + 1
    if span > 4 * ids.size:
        return _unique(ids)
    seen = np.zeros(span, dtype=bool)
    seen[ids - low] = True
    return np.flatnonzero(seen) + low


def _codes(ids: Ints, keys: Ints) -> Int32s:
    """The index of each id in ``keys`` (unique, ascending), −1 where it is not there."""
    if keys.size == 0:
        return np.full(ids.size, -1, dtype=np.int32)
    low = int(keys[0])
    span = int(keys[-1]) - low + 1
    if span <= 4 * (ids.size + keys.size):
        # Ids from a compact range: one gather from a table instead of a binary search each.
        # The table's first and last slots stand for ids below and above the range.
        table = np.full(span + 2, -1, dtype=np.int32)
        table[keys - low + 1] = np.arange(keys.size, dtype=np.int32)
        slots = ids - (low - 1)
        np.clip(slots, 0, span + 1, out=slots)
        return table[slots]
    at, found = _lookup(keys, ids)
    return np.where(found, at, -1).astype(np.int32)


def _key(user: NDArray[np.integer], item: NDArray[np.integer], n_users: int) -> Ints:
    """One integer per (user, item) pair of codes, ascending in (item, user)."""
    return item.astype(np.int64) * n_users + user


@dataclass(frozen=True)
class _Facts:
    """What :func:`~regulars.analytics.repurchase_summary.summarise` knows, on codes.

    Users and items are indexed by their codes (items in ascending id order). Pairs are
    ordered by (item, user), so their :func:`_key` ascends; the ``row_*`` arrays are the
    history rows in that order, each pair's rows from its first visit to its last.
    """

    item_ids: Ints
    pair_user: Int32s
    pair_item: Int32s
    starts: Ints  # each pair's first row
    count: Ints
    first_visit: Int32s
    visits: Ints  # per user
    basket_size: Floats
    repeat_share: Floats
    next_visit_day: Floats
    baskets: Ints  # per item
    propensity: Floats
    row_user: Int32s
    row_item: Int32s
    row_basket: Int32s
    row_day: Int32s | None  # None when undated


def _summarise(
    user: Int32s, item: Ints, basket: Int32s, day: Int32s | None, n_users: int
) -> _Facts:
    """Per (user, item), per user and per item facts of the learners' rows, from one sort.

    ``user`` are learner codes (every learner has rows), ``item`` raw item ids.
    """
    # ufunc.at is fast only when the array and the values share a type (here 32-bit)
    last = np.zeros(n_users, dtype=np.int32)
    np.maximum.at(last, user, basket)
    visits = last.astype(np.int64) + 1
    # One sort by (item, user, basket) numbers the items and groups the pairs, each pair's
    # rows from its first visit to its last.
    low = int(item.min())
    rows = item.size
    baskets_span = int(basket.max()) + 1
    row_bits = rows.bit_length()
    if (int(item.max()) - low + 1) * n_users * baskets_span < 2 ** (62 - row_bits):
        # The row number rides in the key's low bits, so sorting the keys' values gives the
        # order: several times faster than argsort, whose rows are scattered in memory.
        packed = item - low
        packed *= n_users
        packed += user
        packed *= baskets_span
        packed += basket
        packed <<= row_bits
        packed += np.arange(rows)
        packed.sort()
        order = packed & ((1 << row_bits) - 1)
        del packed
    else:  # ids too far apart for one integer key
        order = np.lexsort((basket, user, item))
    item, user, basket = item[order], user[order], basket[order]
    if day is not None:
        day = day[order]
    del order
    new_item = np.empty(rows, dtype=bool)
    new_item[0] = True
    np.not_equal(item[1:], item[:-1], out=new_item[1:])
    item_ids = item[np.flatnonzero(new_item)]  # indices: faster than a mask this sparse
    del item
    new_pair = np.not_equal(user[1:], user[:-1])
    new_pair |= new_item[1:]
    starts = np.concatenate([[0], np.flatnonzero(new_pair) + 1])
    del new_pair
    row_item = np.cumsum(new_item, dtype=np.int32)
    row_item -= 1
    del new_item
    count = np.diff(starts, append=rows)
    pair_user = user[starts]
    pair_item = row_item[starts]
    first_visit = basket[starts]
    # Users: visits, lines ÷ visits, the share of lines repeating an item bought before.
    lines = np.bincount(user, minlength=n_users).astype(np.float64)
    distinct = np.bincount(pair_user, minlength=n_users).astype(np.float64)
    next_visit_day = np.full(n_users, np.nan)
    if day is not None:
        first_day = np.full(n_users, np.iinfo(np.int32).max, dtype=np.int32)
        last_day = np.full(n_users, np.iinfo(np.int32).min, dtype=np.int32)
        np.minimum.at(first_day, user, day)
        np.maximum.at(last_day, user, day)
        # The next visit: last day plus the user's mean gap, or everyone's median gap.
        several = visits > 1
        gap = (last_day - first_day)[several] / (visits[several] - 1)
        next_visit_day = last_day + np.full(n_users, float(np.median(gap)) if gap.size else 7.0)
        next_visit_day[several] = last_day[several] + gap
    # Items: baskets, buyers, and the propensity to be bought again (shrunk to the mean).
    n_items = item_ids.size
    baskets = np.bincount(pair_item, weights=count, minlength=n_items)
    buyers = np.bincount(pair_item, minlength=n_items)
    repeats = baskets - buyers
    chances = np.bincount(pair_item, weights=visits[pair_user] - 1 - first_visit, minlength=n_items)
    overall = repeats.sum() / max(chances.sum(), 1.0)
    return _Facts(
        item_ids=item_ids,
        pair_user=pair_user,
        pair_item=pair_item,
        starts=starts,
        count=count,
        first_visit=first_visit,
        visits=visits,
        basket_size=lines / visits,
        repeat_share=(lines - distinct + 1.0) / (lines + 2.0),
        next_visit_day=next_visit_day,
        baskets=np.rint(baskets).astype(np.int64),
        propensity=(repeats + PROPENSITY_PRIOR * overall) / (chances + PROPENSITY_PRIOR),
        row_user=user,
        row_item=row_item,
        row_basket=basket,
        row_day=day,
    )


@dataclass(frozen=True)
class _Own:
    """The facts of some own (user, item) pairs that only their features need."""

    count: Floats
    first_visit: Floats
    last_visit: Floats
    first_day: Floats
    last_day: Floats
    fast: Floats
    slow: Floats


def _own(facts: _Facts, kept: Ints) -> _Own:
    """Last visit, first and last day and decayed counts of the ``kept`` pairs (ascending)."""
    count = facts.count[kept]
    if count.size == 0:
        empty = np.zeros(0)
        return _Own(empty, empty, empty, empty, empty, empty, empty)
    # The kept pairs' rows, run after run: each run's first row, plus 0, 1, … count − 1.
    starts = np.cumsum(count) - count
    rows = np.repeat(facts.starts[kept] - starts, count)
    rows += np.arange(rows.size)
    basket = facts.row_basket[rows]
    # Decayed counts: weight FAST_DECAY ** (visits back), read from a table of powers.
    ago = facts.visits[facts.row_user[rows]] - 1 - basket
    powers = np.arange(int(facts.visits.max()), dtype=np.float64)
    first_day = last_day = np.full(count.size, np.nan)
    if facts.row_day is not None:
        day = facts.row_day[rows]
        first_day = np.minimum.reduceat(day, starts).astype(np.float64)
        last_day = np.maximum.reduceat(day, starts).astype(np.float64)
    return _Own(
        count=count.astype(np.float64),
        first_visit=facts.first_visit[kept].astype(np.float64),
        last_visit=basket[starts + count - 1].astype(np.float64),
        first_day=first_day,
        last_day=last_day,
        fast=np.add.reduceat(np.power(FAST_DECAY, powers)[ago], starts),
        slow=np.add.reduceat(np.power(SLOW_DECAY, powers)[ago], starts),
    )


def _most_popular(baskets: Ints, n: int) -> Ints:
    """The codes of the n items in most baskets (ties: lower item id), ascending."""
    if n >= baskets.size:
        return np.arange(baskets.size, dtype=np.int64)
    if n <= 0:
        return np.zeros(0, dtype=np.int64)
    # Only items at or above the n-th count can be in; sort those few, not every item.
    floor = np.partition(baskets, baskets.size - n)[baskets.size - n]
    near = np.flatnonzero(baskets >= floor)
    return np.sort(near[np.lexsort((near, -baskets[near]))[:n]])


def _pair_keys(users: Ints, items: Ints, who: Ints, item_ids: Ints) -> Ints:
    """The :func:`_key` of each learner's (user id, item id) pair among these, ascending."""
    codes = _codes(users, who)
    learner: NDArray[np.integer] = codes[codes >= 0]
    items = items[codes >= 0]
    if items.size == 0:
        return np.zeros(0, dtype=np.int64)
    low = int(items.min())
    if (int(items.max()) - low + 1) * who.size < 2**62:
        # Sort the pairs by (item id, user) first: looking sorted ids up is several times
        # faster (each search starts where the last ended), and the keys come out ascending.
        packed = _unique(_key(learner, items - low, who.size))
        learner, items = packed % who.size, packed // who.size + low
    item = _codes(items, item_ids)
    found = item >= 0
    return _unique(_key(learner[found], item[found], who.size))


def _frame_keys(frame: pl.DataFrame, who: Ints, item_ids: Ints) -> Ints:
    """:func:`_pair_keys` of a ``user_id, item_id`` frame."""
    return _pair_keys(frame["user_id"].to_numpy(), frame["item_id"].to_numpy(), who, item_ids)


class _Signals:
    """Household signals on codes: the extra candidates, and which pairs serve a signal."""

    def __init__(
        self, user_signals: pl.DataFrame, item_signals: pl.DataFrame, who: Ints, facts: _Facts
    ) -> None:
        users = require(user_signals, USER_SIGNALS, "user signals")
        items = require(item_signals, ITEM_SIGNALS, "item signals")
        self.matches = _frame_keys(
            users.join(items, on="signal").select("user_id", "item_id"), who, facts.item_ids
        )
        # The SIGNAL_ITEMS most popular items of each signal, as ``candidates`` picks them.
        ranked = (
            pl.DataFrame({"item_id": facts.item_ids, "baskets": facts.baskets})
            .join(items, on="item_id")
            .sort(["baskets", "item_id"], descending=[True, False])
            .group_by("signal", maintain_order=True)
            .head(SIGNAL_ITEMS)
        )
        self.candidates = _frame_keys(
            users.join(ranked, on="signal").select("user_id", "item_id"), who, facts.item_ids
        )


def _category_share(categories: pl.DataFrame, facts: _Facts, user: Int32s, item: Int32s) -> Floats:
    """The share of the user's visits holding the item's category (0 when it has none)."""
    # The categories of the learners' items, numbered 0, 1, … (−1: none).
    known = (
        require(categories, CATEGORIES, "categories")
        .filter(pl.col("item_id").is_in(pl.Series(facts.item_ids).implode()))
        .unique("item_id")
    )
    known = known.filter(pl.col("category").is_not_null())
    numbers = known["category"].cast(pl.Categorical).to_physical().cast(pl.Int64).to_numpy()
    category = np.full(facts.item_ids.size, -1, dtype=np.int64)
    at = np.searchsorted(facts.item_ids, known["item_id"].to_numpy())
    category[at] = np.searchsorted(_unique(numbers), numbers)  # 0, 1, … in keys below
    n_users = facts.visits.size
    row_category = category[facts.row_item]
    has = row_category >= 0
    span = int(facts.row_basket.max()) + 1
    # distinct (category, user, basket), then how many baskets each (category, user) has
    pair = _key(facts.row_user[has], row_category[has], n_users)
    held = _unique(pair * span + facts.row_basket[has]) // span
    keys, visits = np.unique(held, return_counts=True)  # sorted already: no hash table
    theirs = category[item]
    at, found = _lookup(keys, _key(user, theirs, n_users))
    return np.where(found & (theirs >= 0), visits[at], 0) / facts.visits[user]


def _features(
    facts: _Facts, own: _Own, user: Int32s, item: Int32s, population: int
) -> dict[str, Floats]:
    """The features of ``feature_frame`` for candidates: first the own pairs of ``own``.

    Null facts of items the user never bought are NaN here and zeroed with the matrix.
    """
    owned = own.count.size
    others = user.size - owned

    def fact(values: Floats, missing: float) -> Floats:
        return np.concatenate([values, np.full(others, missing)])

    own_flag = fact(np.ones(owned), 0.0)
    new = 1.0 - own_flag
    count = fact(own.count, 0.0)
    twice = count >= 2
    visits = facts.visits[user].astype(np.float64)
    last_visit = fact(own.last_visit, np.nan)
    visits_since = fact(visits[:owned] - 1.0 - own.last_visit, 0.0)
    log_visits = np.log(visits)
    popularity = np.log((facts.baskets[item] + 0.5) / population)
    with np.errstate(divide="ignore", invalid="ignore"):
        visit_gap = (last_visit - fact(own.first_visit, np.nan)) / (count - 1.0)
        visit_due = np.where(twice, np.clip(np.log((visits_since + 1.0) / visit_gap), -3, 3), 0)
        share = count / visits
        features = {
            "own": own_flag,
            "log_count": np.log1p(count),
            "share": share,
            "share_x_log_visits": share * log_visits,
            "recent_fast": fact(own.fast, 0.0) * (1.0 - FAST_DECAY),
            "recent_slow": fact(own.slow, 0.0) * (1.0 - SLOW_DECAY),
            "log_visits_since": np.log1p(visits_since) * own_flag,
            "again": twice.astype(np.float64),
            "visit_due": visit_due,
            "visit_due_sq": visit_due**2,
            "own_x_propensity": np.log(facts.propensity[item]) * own_flag,
            "own_x_log_visits": log_visits * own_flag,
            "own_x_repeat_share": facts.repeat_share[user] * own_flag,
            "log_popularity": popularity,
            "new_x_log_popularity": popularity * new,
            "new_x_log_basket_size": np.log(facts.basket_size[user]) * new,
        }
        if facts.row_day is not None:
            last_day = fact(own.last_day, np.nan)
            days_since = np.clip(facts.next_visit_day[user] - last_day, 0.0, None)
            day_gap = (last_day - fact(own.first_day, np.nan)) / (count - 1.0)
            day_due = np.clip(np.log((days_since + 1.0) / np.clip(day_gap, 1.0, None)), -4, 4)
            day_due = np.where(twice, day_due, 0.0)
            features |= {
                "log_days_since": np.log1p(days_since) * own_flag,
                "day_due": day_due,
                "day_due_sq": day_due**2,
                "log_day_gap": np.where(twice, np.log1p(day_gap), 0.0),
            }
    return features


def _learners(
    history: pl.DataFrame, target: pl.DataFrame | None, learn_users: int | None, seed: int
) -> tuple[Ints, Int32s]:
    """The learners' ids (ascending) and, for each history row, its learner's index or −1.

    Learners are the users of the target with a history or, without a target, the users
    with a second basket; at most ``learn_users`` of them, a seeded sample.
    """
    user_ids = history["user_id"].to_numpy()
    if target is None:
        # users with a second basket, whose last one can be held out
        wanted = _distinct(user_ids[history["basket"].to_numpy() == 1])
    else:
        wanted = _distinct(target["user_id"].to_numpy())
    codes = _codes(user_ids, wanted)
    present = np.bincount(codes[codes >= 0], minlength=wanted.size) > 0
    who = wanted[present]
    if who.size == 0:
        raise ValueError(
            "nothing to learn from: no user has two visits"
            if target is None
            else "nothing to learn from: no user of the target has a history"
        )
    if learn_users is not None and who.size > learn_users:
        # Twenty-odd weights need a few thousand users, not all of them.
        sample = pl.DataFrame({"user_id": who}).sample(learn_users, seed=seed)
        who = np.sort(sample["user_id"].to_numpy())
    if who.size < wanted.size:
        # Renumber: the last slot maps −1 (not wanted) to −1.
        renumber = np.full(wanted.size + 1, -1, dtype=np.int32)
        renumber[np.searchsorted(wanted, who)] = np.arange(who.size, dtype=np.int32)
        codes = renumber[codes]
    return who, codes


def learning_set(
    history: pl.DataFrame,
    target: pl.DataFrame | None,
    *,
    n_popular: int,
    negatives: float,
    learn_users: int | None,
    seed: int,
    categories: pl.DataFrame | None = None,
    user_signals: pl.DataFrame | None = None,
    item_signals: pl.DataFrame | None = None,
) -> LearningSet:
    """The learners' candidates — every bought one, a seeded share of the others — labelled.

    ``history`` has the :data:`~regulars.analytics.repurchase_summary.HISTORY` columns and
    types. ``target`` (``user_id, item_id``, Int64) holds next baskets of some users, who
    are the learners; without it each learner's last basket is held out of their history as
    the target. Learners are sampled down to ``learn_users``; facts come from their
    histories alone, so they read the same on a sample and on everyone (rates and shares).
    """
    who, codes = _learners(history, target, learn_users, seed)
    n_users = who.size
    mine = codes >= 0
    user = codes[mine]
    del codes
    basket = history["basket"].to_numpy()[mine]
    item = history["item_id"].to_numpy()[mine]
    day = history["day"].to_numpy()[mine]  # 32-bit integers, or floats with NaN for nulls
    del mine
    if target is None:
        # Hold out each learner's last basket (every learner has a second one).
        last = np.zeros(n_users, dtype=np.int32)
        np.maximum.at(last, user, basket)
        held = basket == last[user]
        target_user, target_item = who[user[held]], item[held]
        kept = ~held
        user, basket, item, day = user[kept], basket[kept], item[kept], day[kept]
    else:
        target_user, target_item = target["user_id"].to_numpy(), target["item_id"].to_numpy()
    dated = day.dtype.kind in "iu" or not np.isnan(day).any()
    facts = _summarise(user, item, basket, day.astype(np.int32) if dated else None, n_users)
    del user, item, basket, day
    own_keys = _key(facts.pair_user, facts.pair_item, n_users)  # ascending
    # Others: the popular items the user never bought (a popular × user grid, less the
    # bought cells) and the household signals' items.
    popular = _most_popular(facts.baskets, n_popular)
    slot = np.full(facts.item_ids.size, -1, dtype=np.int64)
    slot[popular] = np.arange(popular.size)
    own_slot = slot[facts.pair_item]
    bought = np.zeros((popular.size, n_users), dtype=bool)
    bought[own_slot[own_slot >= 0], facts.pair_user[own_slot >= 0]] = True
    other_slot, other_user = np.nonzero(~bought)
    other_keys = _key(other_user, popular[other_slot], n_users)  # ascending
    signals = None
    if user_signals is not None and item_signals is not None:
        signals = _Signals(user_signals, item_signals, who, facts)
        _at, owned = _lookup(own_keys, signals.candidates)
        other_keys = _unique(np.concatenate([other_keys, signals.candidates[~owned]]))
    other_user, other_item = other_keys % n_users, other_keys // n_users
    # Labels: the target's pairs among the candidates (all three key lists ascend).
    target_keys = _pair_keys(target_user, target_item, who, facts.item_ids)
    own_label = _among(target_keys, own_keys)
    other_label = _among(target_keys, other_keys)
    # Every bought candidate and a seeded share of the others.
    item_ids = facts.item_ids
    draw = uniform(who[facts.pair_user], item_ids[facts.pair_item], seed)
    own = np.flatnonzero(own_label | (draw < negatives))
    draw = uniform(who[other_user], item_ids[other_item], seed)
    kept = np.flatnonzero(other_label | (draw < negatives))
    user = np.concatenate([facts.pair_user[own], other_user[kept]]).astype(np.int32)
    item = np.concatenate([facts.pair_item[own], other_item[kept]]).astype(np.int32)
    label = np.concatenate([own_label[own], other_label[kept]])
    features = _features(facts, _own(facts, own), user, item, n_users)
    if categories is not None:
        share = _category_share(categories, facts, user, item)
        features |= {
            "category_share": share,
            "new_x_category_share": share * (1.0 - features["own"]),
        }
    if signals is not None:
        serves = _lookup(signals.matches, _key(user, item, n_users))[1]
        features["household"] = serves.astype(np.float64)
    # Features as rows (feature × candidate): the layout the Newton solver reads fastest.
    matrix = np.stack(list(features.values()))
    matrix[np.isnan(matrix)] = 0.0  # nulls of the Polars features; infinities are kept
    return LearningSet(
        names=tuple(features),
        matrix=matrix,
        labels=label.astype(np.float64),
        user_ids=who[user],
        item_ids=item_ids[item],
    )
