"""Frequent itemsets and association rules of baskets in memory (pyfim + NumPy).

Counting frequent itemsets is done by Christian Borgelt's FP-growth (``pyfim``), measured
faster than any miner written here. Rules are derived from the itemsets and their counts,
then scored in one vectorised pass (:func:`rule_metrics`). For a rule X ⇒ Y over N baskets,
with n(S) the number of baskets holding every item of S:

* support    = n(X ∪ Y) / N — the rule's support counts body *and* head (the arules and
  mlxtend convention; pyfim's ``arules`` needs ``mode='o'`` for it);
* confidence = n(X ∪ Y) / n(X);
* lift       = confidence / (n(Y) / N);
* leverage   = support − (n(X) / N) · (n(Y) / N);
* conviction = (1 − n(Y) / N) / (1 − confidence), infinite when confidence is 1.

By default the head is one item (the arules convention); ``max_consequent=None`` allows
heads of any size, grown level-wise (Agrawal & Srikant 1994, *ap-genrules*), which is exact
because, for a fixed itemset, confidence can only fall as the head grows.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from itertools import chain, combinations

import fim
import numpy as np
import numpy.typing as npt
import polars as pl
import pyarrow as pa  # type: ignore[import-untyped]

__all__ = ["ITEMSETS", "RULES", "Mined", "min_count", "mine_transactions", "rule_metrics"]

Counts = npt.NDArray[np.float64]

#: Frequent itemsets: the items (sorted), how many baskets hold them all, and that share.
ITEMSETS: dict[str, pl.DataType] = {
    "items": pl.List(pl.String()),
    "count": pl.Int64(),
    "support": pl.Float64(),
}

#: Association rules antecedent ⇒ consequent with their counts and measures.
RULES: dict[str, pl.DataType] = {
    "antecedent": pl.List(pl.String()),
    "consequent": pl.List(pl.String()),
    "count": pl.Int64(),  # baskets holding antecedent ∪ consequent
    "antecedent_count": pl.Int64(),
    "consequent_count": pl.Int64(),
    "support": pl.Float64(),
    "confidence": pl.Float64(),
    "lift": pl.Float64(),
    "leverage": pl.Float64(),
    "conviction": pl.Float64(),
}

Codes = tuple[int, ...]
Matrix = npt.NDArray[np.int64]
Found = list[tuple[tuple[Hashable, ...], int]]


@dataclass(frozen=True)
class Mined:
    """What one mining pass found, and the thresholds it used."""

    itemsets: pl.DataFrame
    rules: pl.DataFrame
    transactions: int
    min_count: int
    min_support: float
    min_confidence: float


def min_count(min_support: float, transactions: int) -> int:
    """The smallest basket count reaching ``min_support`` (at least 1).

    The tiny tolerance keeps 0.01 × 100 baskets at 1, not 2: the product is not exact in
    binary floating point, and ``ceil`` would round the error up.
    """
    return max(1, math.ceil(min_support * transactions - 1e-9))


def rule_metrics(n_xy: Counts, n_x: Counts, n_y: Counts, n: int) -> dict[str, Counts]:
    """Support, confidence, lift, leverage and conviction from basket counts, vectorised."""
    total = float(n)
    support = n_xy / total
    confidence = n_xy / n_x
    p_x, p_y = n_x / total, n_y / total
    lift = confidence / p_y
    leverage = support - p_x * p_y
    conviction = np.full(len(n_xy), np.inf)
    np.divide(1.0 - p_y, 1.0 - confidence, out=conviction, where=confidence < 1.0)
    return {
        "support": support,
        "confidence": confidence,
        "lift": lift,
        "leverage": leverage,
        "conviction": conviction,
    }


@dataclass(frozen=True)
class _Itemsets:
    """Frequent itemsets as item codes: for each size, a matrix of sorted rows and counts.

    Codes number the frequent items in the order of their names (``labels[code]``), so a
    row of sorted codes lists its names sorted too.
    """

    labels: pl.Series
    single: npt.NDArray[np.int64]  # count of each item, by code
    by_size: dict[int, tuple[Matrix, npt.NDArray[np.int64]]]


def _coded(found: Found) -> _Itemsets:
    """pyfim's itemsets as code matrices, one per size, each row sorted."""
    order = sorted((items[0] for items, _count in found if len(items) == 1), key=str)
    code = {item: position for position, item in enumerate(order)}
    single = np.zeros(len(order), dtype=np.int64)
    sizes = np.fromiter((len(items) for items, _c in found), dtype=np.int64, count=len(found))
    counts = np.fromiter((c for _items, c in found), dtype=np.int64, count=len(found))
    flat = np.fromiter(
        map(code.__getitem__, chain.from_iterable(items for items, _c in found)),
        dtype=np.int64,
        count=int(sizes.sum()),
    )
    starts = np.concatenate(([0], np.cumsum(sizes)[:-1])).astype(np.int64)
    by_size: dict[int, tuple[Matrix, npt.NDArray[np.int64]]] = {}
    for size in np.unique(sizes).tolist():
        rows = np.flatnonzero(sizes == size)
        matrix = np.sort(flat[starts[rows][:, None] + np.arange(size)], axis=1)
        by_size[size] = (matrix, counts[rows])
    if 1 in by_size:
        ones, their = by_size[1]
        single[ones[:, 0]] = their
    labels = pl.Series([str(item) for item in order], dtype=pl.String())
    return _Itemsets(labels=labels, single=single, by_size=by_size)


def _lookup(
    table: Matrix, counts: npt.NDArray[np.int64], wanted: Matrix, base: int
) -> npt.NDArray[np.int64]:
    """The counts of the itemsets ``wanted`` (rows of sorted codes) found in ``table``.

    Rows are packed into one integer (base-``base`` digits) and looked up by binary search,
    which is exact while the packed number fits in 63 bits; wider rows (large itemsets over
    many items) go through a dictionary instead.
    """
    size = table.shape[1]
    if size * math.log2(max(base, 2)) < 63:
        powers = base ** np.arange(size - 1, -1, -1, dtype=np.int64)
        keys, asked = table @ powers, wanted @ powers
        order = np.argsort(keys)
        at = np.searchsorted(keys[order], asked)
        found: npt.NDArray[np.int64] = counts[order][at]
        return found
    known = dict(zip(map(tuple, table.tolist()), counts.tolist(), strict=True))
    return np.fromiter(
        (known[tuple(row)] for row in wanted.tolist()), dtype=np.int64, count=len(wanted)
    )


def _lists(matrix: Matrix, labels: pl.Series) -> pl.Series:
    """A List[String] column from rows of item codes (all rows of one size), in bulk."""
    rows, size = matrix.shape
    if rows == 0:
        return pl.Series([], dtype=pl.List(pl.String()))
    names = labels.gather(matrix.ravel())
    return names.reshape((rows, size)).cast(pl.List(pl.String()))


def _list_column(offsets: npt.NDArray[np.int64], codes: Matrix, labels: pl.Series) -> pl.Series:
    """A List[String] column from flat item codes and row offsets (Arrow's own layout)."""
    names = labels.gather(codes).to_arrow()
    built = pa.LargeListArray.from_arrays(pa.array(offsets, type=pa.int64()), names)
    return pl.Series(built).cast(pl.List(pl.String()))


def _single_head_rules(
    coded: _Itemsets, transactions: int, min_confidence: float, min_lift: float
) -> list[pl.DataFrame]:
    """Every rule S∖{h} ⇒ h of the itemsets S of two items or more, scored and filtered.

    The candidates of every size and head position are scored together and the kept rules
    built into one frame: a frame per size and position costs more than the arithmetic.
    """
    base = len(coded.labels)
    bodies: list[Matrix] = []
    heads: list[Matrix] = []
    n_xy: list[npt.NDArray[np.int64]] = []
    n_x: list[npt.NDArray[np.int64]] = []
    for size, (matrix, counts) in sorted(coded.by_size.items()):
        if size < 2:
            continue
        for position in range(size):
            body = np.delete(matrix, position, axis=1)
            bodies.append(body)
            heads.append(matrix[:, position])
            n_xy.append(counts)
            if size == 2:
                n_x.append(coded.single[body[:, 0]])
            else:
                table, their = coded.by_size[size - 1]
                n_x.append(_lookup(table, their, body, base))
    if not heads:
        return []
    head = np.concatenate(heads)
    together, alone = np.concatenate(n_xy), np.concatenate(n_x)
    apart = coded.single[head]
    metrics = rule_metrics(
        together.astype(np.float64),
        alone.astype(np.float64),
        apart.astype(np.float64),
        transactions,
    )
    keep = np.flatnonzero((metrics["confidence"] >= min_confidence) & (metrics["lift"] >= min_lift))
    if len(keep) == 0:
        return []
    # Each candidate's body codes lie together in ``flat``, from ``starts`` for ``widths``.
    widths = np.concatenate([np.full(len(b), b.shape[1], dtype=np.int64) for b in bodies])
    flat = np.concatenate([b.ravel() for b in bodies])
    starts = np.concatenate(([0], np.cumsum(widths)[:-1]))
    kept_widths = widths[keep]
    offsets = np.concatenate(([0], np.cumsum(kept_widths))).astype(np.int64)
    at = np.repeat(starts[keep] - offsets[:-1], kept_widths) + np.arange(offsets[-1])
    frame = pl.DataFrame(
        {
            "antecedent": _list_column(offsets, flat[at], coded.labels),
            "consequent": _list_column(
                np.arange(len(keep) + 1, dtype=np.int64), head[keep], coded.labels
            ),
            "count": together[keep],
            "antecedent_count": alone[keep],
            "consequent_count": apart[keep],
            **{name: values[keep] for name, values in metrics.items()},
        },
        schema=RULES,
    )
    return [frame]


def _any_heads(
    counts: dict[Codes, int], floor: float, max_consequent: int | None
) -> tuple[list[Codes], list[Codes], list[int], list[int], list[int]]:
    """Rules with heads of any size (up to ``max_consequent``), grown level-wise per itemset."""
    bodies: list[Codes] = []
    heads: list[Codes] = []
    n_xy: list[int] = []
    n_x: list[int] = []
    n_y: list[int] = []
    for items, count in counts.items():
        size = len(items)
        if size < 2:
            continue
        whole = frozenset(items)
        level = [frozenset((item,)) for item in items]
        head_size = 1
        while level and head_size < size:
            if max_consequent is not None and head_size > max_consequent:
                break
            kept: list[frozenset[int]] = []
            for head in level:
                body = tuple(sorted(whole - head))
                if count / counts[body] >= floor:
                    kept.append(head)
                    bodies.append(body)
                    heads.append(tuple(sorted(head)))
                    n_xy.append(count)
                    n_x.append(counts[body])
                    n_y.append(counts[heads[-1]])
            # A bigger head can qualify only if every head one item smaller did.
            known = set(kept)
            grown = {a | b for a, b in combinations(kept, 2) if len(a | b) == head_size + 1}
            level = [head for head in grown if all(head - {item} in known for item in head)]
            head_size += 1
    return bodies, heads, n_xy, n_x, n_y


def _ragged_lists(sets: list[Codes], labels: pl.Series) -> pl.Series:
    """A List[String] column from code tuples of any sizes (the any-head rules)."""
    if not sets:
        return pl.Series([], dtype=pl.List(pl.String()))
    lengths = np.fromiter(map(len, sets), dtype=np.int64, count=len(sets))
    flat = np.fromiter(chain.from_iterable(sets), dtype=np.int64, count=int(lengths.sum()))
    rows = np.repeat(np.arange(len(sets)), lengths)
    long = pl.DataFrame({"row": rows, "item": labels.gather(flat)})
    return long.group_by("row", maintain_order=True).agg("item")["item"]


def _any_head_rules(
    coded: _Itemsets,
    transactions: int,
    min_confidence: float,
    min_lift: float,
    max_consequent: int | None,
) -> list[pl.DataFrame]:
    """Rules with heads of any size, as one frame."""
    counts: dict[Codes, int] = {
        tuple(row): int(count)
        for matrix, their in coded.by_size.values()
        for row, count in zip(matrix.tolist(), their.tolist(), strict=True)
    }
    # The confidence floor prunes while heads grow; the exact filter follows below.
    bodies, heads, xy, x, y = _any_heads(counts, min_confidence * (1 - 1e-12), max_consequent)
    n_xy = np.asarray(xy, dtype=np.int64)
    n_x = np.asarray(x, dtype=np.int64)
    n_y = np.asarray(y, dtype=np.int64)
    metrics = rule_metrics(
        n_xy.astype(np.float64), n_x.astype(np.float64), n_y.astype(np.float64), transactions
    )
    keep = np.flatnonzero((metrics["confidence"] >= min_confidence) & (metrics["lift"] >= min_lift))
    frame = pl.DataFrame(
        {
            "antecedent": _ragged_lists([bodies[i] for i in keep], coded.labels),
            "consequent": _ragged_lists([heads[i] for i in keep], coded.labels),
            "count": n_xy[keep],
            "antecedent_count": n_x[keep],
            "consequent_count": n_y[keep],
            **{name: values[keep] for name, values in metrics.items()},
        },
        schema=RULES,
    )
    return [frame]


def _everywhere_sets(
    baskets: Sequence[Sequence[Hashable]], found: Found, max_items: int | None
) -> Found:
    """The itemsets pyfim leaves out: those made only of items found in every basket.

    pyfim 6.28 treats such items as perfect extensions of the empty set and never reports
    an itemset holding nothing else ({milk} when every basket has milk), though it reports
    every set mixing them with other items. Their count is the number of baskets.
    """
    if not baskets:
        return []
    singles = {items[0] for items, _count in found if len(items) == 1}
    everywhere = set(chain.from_iterable(items for items, _count in found)) - singles
    if not found:
        # Nothing reported: either nothing is frequent or every frequent item is everywhere.
        common = set(baskets[0])
        for basket in baskets[1:]:
            common.intersection_update(basket)
            if not common:
                break
        everywhere = common
    ordered = sorted(everywhere, key=str)
    largest = min(len(ordered), max_items or len(ordered))
    return [
        (items, len(baskets))
        for size in range(1, largest + 1)
        for items in combinations(ordered, size)
    ]


def mine_transactions(
    baskets: Sequence[Sequence[Hashable]],
    *,
    min_support: float,
    min_confidence: float,
    min_lift: float = 0.0,
    max_items: int | None = None,
    max_consequent: int | None = 1,
    min_baskets: int = 1,
) -> Mined:
    """Frequent itemsets and rules of baskets already in memory (each a list of items).

    Items may be any hashable of one type (product ids, names); the results show them as
    strings. ``max_items`` caps the size of itemsets (and so of rules); ``min_baskets``
    raises the support threshold to at least that many baskets. A basket may list an item
    twice: pyfim reads each basket as a set.
    """
    total = len(baskets)
    if not 0 < min_support <= 1 or not 0 <= min_confidence <= 1:
        raise ValueError("support must be in (0, 1] and confidence in [0, 1]")
    floor = max(min_count(min_support, total), min_baskets)
    # pyfim takes a negative support as an absolute count.
    limit = {"zmax": max_items} if max_items else {}
    found: Found = (
        fim.fpgrowth(baskets, target="s", supp=-floor, report="a", **limit) if total else []
    )
    found += _everywhere_sets(baskets, found, max_items)
    coded = _coded(found)
    itemsets = pl.concat(
        [
            pl.DataFrame(
                {"items": _lists(matrix, coded.labels), "count": counts},
                schema={"items": ITEMSETS["items"], "count": ITEMSETS["count"]},
            )
            for _size, (matrix, counts) in sorted(coded.by_size.items())
        ]
        or [pl.DataFrame(schema={"items": ITEMSETS["items"], "count": ITEMSETS["count"]})]
    ).with_columns((pl.col("count") / max(total, 1)).alias("support"))
    parts = (
        _single_head_rules(coded, total, min_confidence, min_lift)
        if max_consequent == 1
        else _any_head_rules(coded, total, min_confidence, min_lift, max_consequent)
    )
    rules = pl.concat(parts) if parts else pl.DataFrame(schema=RULES)
    return Mined(
        itemsets=itemsets,
        rules=rules.sort(
            ["lift", "confidence", "antecedent", "consequent"],
            descending=[True, True, False, False],
        ),
        transactions=total,
        min_count=floor,
        min_support=min_support,
        min_confidence=min_confidence,
    )
