"""Next-basket evaluation: the reality-check metrics, the split readers, ``lists evaluate``."""

from __future__ import annotations

import json
import math
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from regulars.analytics.nbr_data import (
    nbr_metrics,
    ranked_frame,
    ranked_lists,
    read_split,
)
from regulars.entrypoints.cli_lists import lists_app

runner = CliRunner()
SLICE_USERS = 300


def _future(rows: dict[int, list[int]]) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "user_id": [u for u, items in rows.items() for _ in items],
            "item_id": [i for items in rows.values() for i in items],
        }
    )


def test_metrics_on_a_hand_made_example() -> None:
    future = _future({1: [1, 2, 3], 2: [5], 3: [7]})
    ranked = ranked_frame({1: [1, 4, 2], 2: [6, 5]})  # user 3 got no prediction: counts as 0
    got = nbr_metrics(ranked, future, ks=(1, 2))
    third = 1 / math.log2(3)
    # k = 2 — user 1: one hit of three at rank 1; user 2: its only item at rank 2.
    assert got["recall@2"] == pytest.approx((1 / 3 + 1 + 0) / 3)
    assert got["ndcg@2"] == pytest.approx((1 / (1 + third) + third + 0) / 3)
    assert got["phr@2"] == pytest.approx(2 / 3)
    # k = 1 — only user 1's first item hits; the ideal DCG is over min(k, |basket|) = 1 place.
    assert got["recall@1"] == pytest.approx(1 / 9)
    assert got["ndcg@1"] == pytest.approx(1 / 3)
    assert got["phr@1"] == pytest.approx(1 / 3)


def test_metrics_count_a_hit_once_and_ignore_ranks_beyond_k() -> None:
    future = _future({1: [10, 11]})
    got = nbr_metrics(ranked_frame({1: [12, 13, 10, 11]}), future, ks=(2, 4))
    assert got["recall@2"] == 0.0
    assert got["ndcg@2"] == 0.0
    assert got["recall@4"] == 1.0
    assert got["ndcg@4"] == pytest.approx((1 / 2 + 1 / math.log2(5)) / (1 + 1 / math.log2(3)))


def test_ranked_lists_round_trip() -> None:
    lists = {5: [3, 1, 2], 7: [9]}
    assert ranked_lists(ranked_frame(lists)) == {"5": [3, 1, 2], "7": [9]}


def test_tafeng_reader_drops_markers_and_numbers_baskets(tmp_path: Path) -> None:
    history = tmp_path / "h.json"
    future = tmp_path / "f.json"
    history.write_text(json.dumps({"4": [[-1], [1, 2], [2, 2, 3], [-1]], "9": [[-1], [5], [-1]]}))
    future.write_text(json.dumps({"4": [[-1], [3, 7], [-1]], "8": [[-1], [1], [-1]]}))
    split = read_split(history, future)
    assert split.format == "tafeng"
    assert split.history.sort("user_id", "basket", "item_id").rows() == [
        (4, 0, None, 1),
        (4, 0, None, 2),
        (4, 1, None, 2),
        (4, 1, None, 3),
        (9, 0, None, 5),
    ]
    # user 8 has no history: not evaluated
    assert split.future.sort("item_id").rows() == [(4, 3), (4, 7)]


def test_dunnhumby_reader_orders_baskets_by_day(tmp_path: Path) -> None:
    history = tmp_path / "train.csv"
    history.write_text(
        "date,basket_id,user_id,item_id\n5,200,1,10\n2,300,1,11\n2,300,1,12\n9,100,2,10\n"
    )
    future = tmp_path / "test.csv"
    future.write_text("user_id,basket_id,date,item_id\n1,900,30,10\n3,901,31,10\n")
    split = read_split(history, future)
    assert split.format == "dunnhumby"
    assert split.history.sort("user_id", "basket", "item_id").rows() == [
        (1, 0, 2, 11),
        (1, 0, 2, 12),
        (1, 1, 5, 10),
        (2, 0, 9, 10),
    ]
    assert split.future.rows() == [(1, 10)]


def _tafeng_slice(data_dir: Path, out: Path) -> tuple[Path, Path]:
    """The first SLICE_USERS users of the Ta-Feng split, written as the same JSON shape."""
    source = data_dir / "tafeng"
    paths = []
    for name in ("tafeng_history.json", "tafeng_future.json"):
        with (source / name).open() as handle:
            raw = json.load(handle)
        keep = dict(list(raw.items())[:SLICE_USERS])
        path = out / name
        path.write_text(json.dumps(keep))
        paths.append(path)
    return paths[0], paths[1]


def _p_topfreq(history: pl.DataFrame, k: int) -> pl.DataFrame:
    """P-TopFreq for comparison: own items by basket count, ties by first appearance."""
    return (
        history.with_row_index("row")
        .group_by("user_id", "item_id")
        .agg(pl.len().alias("count"), pl.col("row").min().alias("first"))
        .sort(["user_id", "count", "first"], descending=[False, True, False])
        .with_columns(rank=pl.int_range(1, pl.len() + 1, dtype=pl.Int32).over("user_id"))
        .filter(pl.col("rank") <= k)
        .select("user_id", "item_id", "rank")
    )


def test_lists_evaluate_on_a_tafeng_slice_beats_p_topfreq(data_dir: Path, tmp_path: Path) -> None:
    history, future = _tafeng_slice(data_dir, tmp_path)
    out = tmp_path / "pred.json"
    result = runner.invoke(
        lists_app,
        [
            "evaluate",
            "--history",
            str(history),
            "--future",
            str(future),
            "--k",
            "10",
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    predictions = json.loads(out.read_text())
    assert len(predictions) == SLICE_USERS
    assert all(len(items) == 10 and len(set(items)) == 10 for items in predictions.values())
    assert all(isinstance(item, int) for items in predictions.values() for item in items)

    split = read_split(history, future)
    ranked = ranked_frame({int(user): items for user, items in predictions.items()})
    ours = nbr_metrics(ranked, split.future, ks=(10,))
    theirs = nbr_metrics(_p_topfreq(split.history, 10), split.future, ks=(10,))
    # Measured on this slice: Regulars recall@10 0.171, NDCG@10 0.164; P-TopFreq 0.137, 0.128.
    assert ours["recall@10"] == pytest.approx(0.1712, abs=0.01)
    assert ours["ndcg@10"] == pytest.approx(0.1642, abs=0.01)
    assert theirs["recall@10"] == pytest.approx(0.1370, abs=0.001)
    assert theirs["ndcg@10"] == pytest.approx(0.1282, abs=0.001)
    assert ours["recall@10"] > theirs["recall@10"] + 0.015
    assert ours["ndcg@10"] > theirs["ndcg@10"] + 0.015
    assert "recall@10" in result.output
