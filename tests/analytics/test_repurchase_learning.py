"""The fit's learning set, computed with NumPy, is what the Polars features say it should be.

Prediction computes its features with Polars (and Spark); the fit computes those of its
learning set with NumPy. Here both run on the same histories, and every candidate, label and
feature must agree.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest

from regulars.analytics.nbr_data import read_split
from regulars.analytics.repurchase_features import (
    candidates,
    feature_frame,
    feature_matrix,
    summarise,
)
from regulars.analytics.repurchase_learning import LearningSet, learning_set, uniform

MILK = 100
BREAD = 200


def _history(dated: bool = True) -> pl.DataFrame:
    """Six shoppers with weekly milk, some bread, one-off items and uneven visits."""
    rows: list[tuple[int, int, int | None, int]] = []
    for user in range(1, 7):
        days = [0, 7, 14, 21, 28][: 2 + user % 4]
        for basket, day in enumerate(days):
            items = [MILK, 1000 + 10 * user + basket] + ([BREAD] if (basket + user) % 3 else [])
            rows += [(user, basket, day + user if dated else None, item) for item in items]
    rows += [(7, 0, 3 if dated else None, MILK)]  # one visit: never a learner
    return pl.DataFrame(
        rows,
        schema={"user_id": pl.Int64, "basket": pl.Int32, "day": pl.Int32, "item_id": pl.Int64},
        orient="row",
    )


def _reference(
    history: pl.DataFrame,
    target: pl.DataFrame | None,
    n_popular: int,
    **extras: pl.DataFrame,
) -> tuple[pl.DataFrame, list[str]]:
    """Every candidate of the learners, labelled, with its features — computed with Polars."""
    if target is None:
        who = history.filter(pl.col("basket") == 1).select("user_id").unique()
        last = pl.col("basket").max().over("user_id")
        source = history.join(who, on="user_id", how="semi")
        target = source.filter(pl.col("basket") == last).select("user_id", "item_id")
        source = source.filter(pl.col("basket") < last)
    else:
        who = target.select("user_id").unique().join(history, on="user_id", how="semi")
        source = history.join(who, on="user_id", how="semi")
    summary = summarise(source, spread=False, **extras)
    labelled = candidates(summary, who, n_popular).join(
        target.unique().lazy().with_columns(label=pl.lit(1.0)),
        on=["user_id", "item_id"],
        how="left",
    )
    lazy, names = feature_frame(summary, labelled)
    return lazy.collect().sort("user_id", "item_id"), names


def _learn(
    history: pl.DataFrame,
    target: pl.DataFrame | None,
    n_popular: int,
    negatives: float = 1.0,
    **extras: pl.DataFrame,
) -> LearningSet:
    return learning_set(
        history,
        target,
        n_popular=n_popular,
        negatives=negatives,
        learn_users=None,
        seed=0,
        **extras,
    )


def _assert_same(
    history: pl.DataFrame,
    target: pl.DataFrame | None = None,
    n_popular: int = 3,
    **extras: pl.DataFrame,
) -> LearningSet:
    learn = _learn(history, target, n_popular, **extras)  # every candidate kept
    expected, names = _reference(history, target, n_popular, **extras)
    assert learn.names == tuple(names)
    order = np.lexsort((learn.item_ids, learn.user_ids))
    assert learn.user_ids[order].tolist() == expected["user_id"].to_list()
    assert learn.item_ids[order].tolist() == expected["item_id"].to_list()
    assert learn.labels[order].tolist() == expected["label"].fill_null(0.0).to_list()
    got = learn.matrix[:, order]
    want = feature_matrix(expected, names).T
    for name, mine, theirs in zip(names, got, want, strict=True):
        np.testing.assert_allclose(mine, theirs, rtol=1e-12, atol=1e-12, err_msg=name)
    return learn


def test_a_dated_history_with_its_last_baskets_held_out() -> None:
    learn = _assert_same(_history())
    assert learn.labels.sum() > 0
    assert 7 not in learn.user_ids  # one visit: nothing to hold out


def test_learners_with_one_visit_left_are_due_after_the_usual_gap() -> None:
    # two baskets each: once the last is held out, nobody has a gap of their own
    _assert_same(_history().filter(pl.col("basket") < 2))


def test_an_undated_history() -> None:
    learn = _assert_same(_history(dated=False))
    assert "day_due" not in learn.names


def test_a_given_target() -> None:
    target = pl.DataFrame({"user_id": [1, 2, 2, 3, 42], "item_id": [MILK, BREAD, 999, 1031, 1]})
    learn = _assert_same(_history(), target, n_popular=50)
    assert sorted(set(learn.user_ids.tolist())) == [1, 2, 3]  # 42 has no history


def test_categories_and_household_signals() -> None:
    extra = pl.DataFrame(
        {"user_id": [6, 5], "basket": [0, 1], "day": [6, 12], "item_id": [777, 555]},
        schema={"user_id": pl.Int64, "basket": pl.Int32, "day": pl.Int32, "item_id": pl.Int64},
    )
    learn = _assert_same(
        pl.concat([_history(), extra]),
        n_popular=2,
        categories=pl.DataFrame({"item_id": [MILK, 555, 1011], "category": ["dairy"] * 3}),
        user_signals=pl.DataFrame({"user_id": [1, 2, 9], "signal": ["baby", "pet", "baby"]}),
        item_signals=pl.DataFrame({"item_id": [777, BREAD], "signal": ["baby", "baby"]}),
    )
    assert {"category_share", "household"} <= set(learn.names)
    assert 777 in learn.item_ids[learn.user_ids == 1]  # a household candidate


def test_negatives_are_a_seeded_share_and_every_positive_stays() -> None:
    history = _history()
    everything = _learn(history, None, 3)
    sample = _learn(history, None, 3, negatives=0.3)
    draw = uniform(everything.user_ids, everything.item_ids, 0)
    kept = (everything.labels > 0) | (draw < 0.3)
    pairs = set(zip(sample.user_ids.tolist(), sample.item_ids.tolist(), strict=True))
    users, items = everything.user_ids[kept].tolist(), everything.item_ids[kept].tolist()
    assert pairs == set(zip(users, items, strict=True))
    assert 0 < len(pairs) < everything.labels.size


def test_learners_are_sampled_as_before() -> None:
    history = _history()
    learn = learning_set(history, None, n_popular=3, negatives=1.0, learn_users=3, seed=5)
    who = history.filter(pl.col("basket") == 1).select("user_id").unique().sort("user_id")
    assert set(learn.user_ids.tolist()) == set(who.sample(3, seed=5)["user_id"].to_list())


@pytest.mark.slow
def test_real_histories(data_dir: Path) -> None:
    tafeng = read_split(
        data_dir / "tafeng" / "tafeng_history.json",
        data_dir / "tafeng" / "tafeng_future.json",
        users=300,
    )
    _assert_same(tafeng.history, n_popular=40)
    dunnhumby = data_dir / "dunnhumby-nbr"
    train = dunnhumby / "train_baskets_sample.csv"
    split = read_split(train, dunnhumby / "valid_baskets.csv")
    products = pl.read_csv(
        data_dir / "completejourney" / "csv" / "products.csv", infer_schema_length=0
    )
    categories = products.select(
        pl.col("product_id").cast(pl.Int64, strict=False).alias("item_id"),
        pl.col("product_category").alias("category"),
    ).drop_nulls()
    target = split.future.cast({"user_id": pl.Int64, "item_id": pl.Int64})
    _assert_same(split.history, target, n_popular=40, categories=categories)


def test_the_newton_solver_finds_the_penalised_optimum() -> None:
    from scipy.optimize import minimize

    from regulars.analytics.repurchase import _logistic

    rng = np.random.default_rng(3)
    x = rng.standard_normal((6, 3000))
    x[5] = rng.random(3000) < 0.02  # a rare feature, as some repeat signals are
    truth = np.array([1.0, -0.5, 0.3, 0.0, 2.0, 1.5])
    y = (rng.random(3000) < 1 / (1 + np.exp(2.0 - truth @ x))).astype(np.float64)
    weights, intercept = _logistic(x, y, l2=1.0, max_iter=30)

    def loss(theta: np.ndarray) -> float:
        z = theta[:-1] @ x + theta[-1]
        return float(np.logaddexp(0.0, z).sum() - y @ z + 0.5 * theta[:-1] @ theta[:-1])

    best = minimize(loss, np.zeros(7), method="BFGS", options={"gtol": 1e-9}).x
    np.testing.assert_allclose(weights, best[:-1], atol=1e-5)
    assert intercept == pytest.approx(best[-1], abs=1e-5)
