"""The repurchase model on hand-made histories: ranking, reasons, expected days, inputs."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from regulars.analytics.frames import ColumnError
from regulars.analytics.nbr_data import read_split
from regulars.analytics.repurchase import (
    PREDICTIONS,
    RepurchaseParams,
    fit,
    history_from_lines,
    reason_text,
)

MILK = 100
BREAD = 200


def _rows(user: int, days: list[int], items: list[list[int]]) -> list[tuple[int, int, int, int]]:
    return [
        (user, basket, day, item)
        for basket, (day, basket_items) in enumerate(zip(days, items, strict=True))
        for item in basket_items
    ]


def _history() -> pl.DataFrame:
    """Six shoppers who buy milk weekly, some bread now and then, and one-off items."""
    rows: list[tuple[int, int, int, int]] = []
    for user in range(1, 7):
        days = [0, 7, 14, 21, 28]
        one_off = [1000 + 10 * user + visit for visit in range(len(days))]
        baskets = [[MILK, one_off[v]] + ([BREAD] if (v + user) % 3 == 0 else []) for v in range(5)]
        rows += _rows(user, days, baskets)
    return pl.DataFrame(rows, schema=["user_id", "basket", "day", "item_id"], orient="row")


def test_a_weekly_item_last_bought_six_days_ago_ranks_first_with_its_rhythm() -> None:
    model = fit(_history(), as_of=34)
    got = model.predict([1], k=3)
    assert got.columns == list(PREDICTIONS)
    first = got.row(0, named=True)
    assert (first["item_id"], first["rank"]) == (MILK, 1)
    assert first["reason_code"] == "rhythm"
    assert json.loads(first["reason_params"]) == {"every_days": 7, "last_days": 6}
    assert first["expected_days"] == 1
    assert 0.5 < first["score"] <= 1.0
    assert reason_text(first["reason_code"], first["reason_params"], "en") == (
        "you buy this about every 7 days; last bought 6 days ago"
    )
    # the other lines are ranked below it, each with a reason the list can show
    assert got["rank"].to_list() == [1, 2, 3]
    assert (got["score"].diff().drop_nulls() <= 0).all()
    for code, params in zip(got["reason_code"], got["reason_params"], strict=True):
        assert reason_text(code, params, "en")


def test_reasons_for_items_bought_once_and_popular_items() -> None:
    model = fit(_history(), as_of=34)
    got = model.predict([1], k=20)
    by_item = {row["item_id"]: row for row in got.iter_rows(named=True)}
    once = by_item[1014]  # user 1's one-off from the last visit (day 28)
    assert once["reason_code"] == "again"
    assert json.loads(once["reason_params"]) == {"last_days": 6}
    assert once["expected_days"] is None
    others = [row for row in got.iter_rows(named=True) if row["reason_code"] == "popular"]
    assert others, "items user 1 never bought are filled from the popular ones"
    assert all(row["item_id"] not in range(1010, 1015) for row in others)
    assert reason_text("popular", others[0]["reason_params"], "en").startswith("popular: ")


def test_undated_history_measures_rhythm_in_visits() -> None:
    history = _history().with_columns(day=pl.lit(None, pl.Int32))
    first = fit(history).predict([2], k=1).row(0, named=True)
    assert first["item_id"] == MILK
    assert first["reason_code"] == "rhythm"
    assert json.loads(first["reason_params"]) == {"every_visits": 1, "last_visits": 0}
    assert first["expected_days"] is None


def test_ranking_without_the_reasons_facts_is_the_same_ranking() -> None:
    # top_k skips the spread of the purchase gaps (only reasons quote it): same lists
    model = fit(_history(), as_of=34)
    ranked = model.top_k([1, 2, 3, 99], k=5)
    explained = model.predict([1, 2, 3, 99], k=5)
    assert ranked.rows() == explained.select("user_id", "item_id", "rank").rows()
    assert ranked.height == 20


def test_a_given_target_is_learned_from() -> None:
    history = _history()
    # the validation baskets say everyone buys milk and bread next
    target = pl.DataFrame({"user_id": [1, 2, 3, 4, 5, 6] * 2, "item_id": [MILK] * 6 + [BREAD] * 6})
    got = fit(history, target=target, params=RepurchaseParams(n_popular=5)).predict([1], k=2)
    assert set(got["item_id"]) == {MILK, BREAD}
    with pytest.raises(ValueError, match="no user of the target"):
        fit(history, target=pl.DataFrame({"user_id": [42], "item_id": [MILK]}))


def test_a_user_without_history_gets_the_popular_items() -> None:
    got = fit(_history(), params=RepurchaseParams(n_popular=5)).predict([99], k=2)
    assert got["user_id"].to_list() == [99, 99]
    assert got["reason_code"].to_list() == ["popular", "popular"]
    assert got["item_id"].to_list() == [MILK, BREAD]  # the two most popular items


def test_household_and_category_signals_add_candidates_and_reasons() -> None:
    history = _history()
    categories = pl.DataFrame(
        {"item_id": [MILK, BREAD, 555], "category": ["dairy", "bakery", "dairy"]}
    )
    users = pl.DataFrame({"user_id": [1], "signal": ["baby"]})
    items = pl.DataFrame({"item_id": [777], "signal": ["baby"]})
    # item 777 (nappies) was bought once by user 6 only; user 1 is a baby household.
    extra = pl.DataFrame(
        {"user_id": [6], "basket": [4], "day": [28], "item_id": [777]},
        schema={"user_id": pl.Int64, "basket": pl.Int32, "day": pl.Int32, "item_id": pl.Int64},
    )
    model = fit(
        pl.concat([history.cast({"basket": pl.Int32, "day": pl.Int32}), extra]),
        categories=categories,
        user_signals=users,
        item_signals=items,
        as_of=34,
    )
    assert "household" in model.names and "category_share" in model.names
    got = model.predict([1], k=50)
    nappies = got.filter(pl.col("item_id") == 777).row(0, named=True)
    assert nappies["reason_code"] == "household"
    assert json.loads(nappies["reason_params"]) == {"signal": "baby"}
    assert (
        reason_text("household", nappies["reason_params"], "en")
        == "chosen for your household (baby)"
    )


def test_fit_checks_its_input() -> None:
    with pytest.raises(ColumnError):
        fit(pl.DataFrame({"user_id": [1], "item_id": [2]}))
    with pytest.raises(ValueError, match="unknown reason"):
        reason_text("rhythm", {"every_days": 3})


def _lines() -> pl.DataFrame:
    """Receipt lines of member 7: two lines of one product, an anonymous sale, a return."""

    def at(day: int, hour: int) -> datetime:
        return datetime(2026, 1, day, hour, tzinfo=UTC)

    return pl.DataFrame(
        {
            "receipt_id": [1, 1, 2, 3, 4, 5],
            "member_id": [7, 7, 7, 7, None, 7],
            "store_id": [1] * 6,
            "at": [at(2, 9), at(2, 9), at(1, 18), at(5, 8), at(3, 8), at(6, 8)],
            "product_id": [MILK, MILK, BREAD, MILK, BREAD, BREAD],
            "quantity": [1.0, 2.0, 1.0, 1.0, 1.0, -1.0],  # receipt 5 is a return
            "amount": [3.0, 6.0, 5.0, 3.0, 5.0, -5.0],
            "cost": [None] * 6,
        }
    )


def test_history_from_receipt_lines() -> None:
    history = history_from_lines(_lines())
    first_day = (datetime(2026, 1, 1, tzinfo=UTC).date() - datetime(1970, 1, 1).date()).days
    assert history.rows() == [
        (7, 0, first_day, BREAD),
        (7, 1, first_day + 1, MILK),
        (7, 2, first_day + 4, MILK),
    ]


def _assert_same_predictions(local: pl.DataFrame, distributed: pl.DataFrame) -> None:
    assert distributed.columns == local.columns
    assert distributed.height == local.height
    keys = ["user_id", "rank"]
    left = local.sort(keys)
    right = distributed.sort(keys)
    for column in ("user_id", "item_id", "rank", "expected_days", "reason_code"):
        assert right[column].to_list() == left[column].to_list(), column
    for mine, theirs in zip(left["reason_params"], right["reason_params"], strict=True):
        assert json.loads(theirs) == json.loads(mine)
    assert right["score"].to_numpy() == pytest.approx(left["score"].to_numpy(), rel=1e-9)


@pytest.mark.spark
@pytest.mark.slow
def test_spark_scores_a_dated_history_like_the_local_engine(spark: Any) -> None:
    from regulars.analytics.engines.spark_repurchase import predict_spark

    history = _history().cast({"basket": pl.Int32, "day": pl.Int32})
    extra = pl.DataFrame(
        {"user_id": [6, 3], "basket": [4, 4], "day": [28, 28], "item_id": [777, 555]},
        schema={"user_id": pl.Int64, "basket": pl.Int32, "day": pl.Int32, "item_id": pl.Int64},
    )
    history = pl.concat([history, extra])
    model = fit(
        history,
        categories=pl.DataFrame({"item_id": [MILK, 555], "category": ["dairy", "dairy"]}),
        user_signals=pl.DataFrame({"user_id": [1, 2], "signal": ["baby", "pet"]}),
        item_signals=pl.DataFrame({"item_id": [777], "signal": ["baby"]}),
        as_of=34,
    )
    local = model.predict([1, 2, 3, 99], k=8)
    distributed = predict_spark(
        spark, model, spark.createDataFrame(history.to_arrow()), 8, users=[1, 2, 3, 99]
    )
    _assert_same_predictions(local, distributed)
    assert set(local["reason_code"]) >= {"rhythm", "again", "popular"}


@pytest.mark.spark
@pytest.mark.slow
def test_spark_scores_a_tafeng_slice_like_the_local_engine(spark: Any, data_dir: Path) -> None:
    from regulars.analytics.engines.spark_repurchase import predict_spark

    split = read_split(
        data_dir / "tafeng" / "tafeng_history.json",
        data_dir / "tafeng" / "tafeng_future.json",
        users=200,
    )
    model = fit(split.history)
    local = model.predict(None, k=10)
    distributed = predict_spark(spark, model, spark.createDataFrame(split.history.to_arrow()), 10)
    _assert_same_predictions(local, distributed)


@pytest.mark.spark
@pytest.mark.slow
def test_spark_builds_histories_like_the_local_engine(spark: Any) -> None:
    from regulars.analytics.engines.spark_repurchase import history_from_lines_spark

    lines = pl.concat(
        [
            _lines(),
            # a second member whose two receipts share a time: numbered by receipt id
            _lines()
            .filter(pl.col("receipt_id").is_in([1, 3]))
            .with_columns(member_id=pl.lit(8, pl.Int64), at=pl.col("at").min())
            .with_columns(receipt_id=pl.col("receipt_id") + 10),
        ]
    )
    local = history_from_lines(lines)
    distributed = pl.from_arrow(
        history_from_lines_spark(spark.createDataFrame(lines.to_arrow())).toArrow()
    )
    assert isinstance(distributed, pl.DataFrame)
    assert distributed.sort(local.columns).rows() == local.rows()
    assert local["user_id"].n_unique() == 2
