"""Association rules: the lesson's numbers, pyfim's and mlxtend's rules on Groceries, Spark."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import fim
import numpy as np
import pandas as pd
import polars as pl
import pytest
from mlxtend.frequent_patterns import association_rules
from mlxtend.frequent_patterns import fpgrowth as mlxtend_fpgrowth
from mlxtend.preprocessing import TransactionEncoder

from regulars.analytics.basket import basket_items, min_count, mine, mine_transactions, rule_metrics
from regulars.analytics.frames import ColumnError

LESSON = [
    ["beer", "diapers", "baby powder", "bread", "umbrella"],
    ["diapers", "baby powder"],
    ["beer", "diapers", "milk"],
    ["beer", "diapers", "detergent"],
    ["beer", "milk", "cola"],
]


def _groceries(data_dir: Path) -> list[list[str]]:
    path = data_dir / "groceries" / "groceries.csv"
    return [line.strip().split(",") for line in path.read_text().splitlines() if line.strip()]


def _rule(rules: pl.DataFrame, body: list[str], head: list[str]) -> dict[str, float]:
    found = rules.filter(
        (pl.col("antecedent") == pl.lit(sorted(body))) & (pl.col("consequent") == pl.lit(head))
    )
    assert found.height == 1, (body, head)
    return found.row(0, named=True)


def test_the_beer_and_diapers_lesson() -> None:
    mined = mine_transactions(LESSON, min_support=0.2, min_confidence=0.5)
    beer = _rule(mined.rules, ["beer"], ["diapers"])
    assert beer["support"] == pytest.approx(0.6)
    assert beer["confidence"] == pytest.approx(0.75)
    assert beer["lift"] == pytest.approx(0.75 / 0.8)
    assert beer["leverage"] == pytest.approx(0.6 - 0.8 * 0.8)
    assert beer["conviction"] == pytest.approx((1 - 0.8) / (1 - 0.75))
    powder = _rule(mined.rules, ["baby powder"], ["diapers"])
    assert powder["confidence"] == pytest.approx(1.0) and powder["conviction"] == np.inf
    assert mined.transactions == 5 and mined.min_count == 1
    assert set(mined.rules["consequent"].list.len().to_list()) == {1}
    # a lift floor keeps only rules above chance: beer ⇒ diapers (lift 0.94) goes
    above = mine_transactions(LESSON, min_support=0.2, min_confidence=0.5, min_lift=1.0)
    assert above.rules.height < mined.rules.height
    assert (above.rules["lift"] >= 1.0).all()


def test_rule_metrics_by_hand() -> None:
    got = rule_metrics(np.array([3.0, 2.0]), np.array([4.0, 2.0]), np.array([4.0, 4.0]), 5)
    assert got["support"] == pytest.approx([0.6, 0.4])
    assert got["confidence"] == pytest.approx([0.75, 1.0])
    assert got["lift"] == pytest.approx([0.9375, 1.25])
    assert got["leverage"] == pytest.approx([0.6 - 0.64, 0.4 - 0.32])
    assert got["conviction"][0] == pytest.approx(0.8) and np.isinf(got["conviction"][1])


def test_min_count_is_not_fooled_by_floating_point() -> None:
    assert min_count(0.01, 100) == 1  # 0.01 × 100 is 1.0000000000000002 in binary
    assert min_count(0.001, 9835) == 10
    assert min_count(0.5, 3) == 2
    assert min_count(1e-9, 10) == 1


def test_groceries_single_heads_are_exactly_pyfims(data_dir: Path) -> None:
    baskets = _groceries(data_dir)
    assert len(baskets) == 9835
    mined = mine_transactions(baskets, min_support=0.001, min_confidence=0.5)
    reference = fim.arules(baskets, supp=-10, conf=50, zmin=2, mode="o", report="abhscl")
    expected = {(frozenset(body), head): values for head, body, *values in reference}
    ours = {
        (frozenset(r["antecedent"]), r["consequent"][0]): r
        for r in mined.rules.iter_rows(named=True)
    }
    assert len(ours) == len(expected) == 5670
    assert ours.keys() == expected.keys()
    for key, (count, body, head, support, confidence, lift) in expected.items():
        rule = ours[key]
        assert (rule["count"], rule["antecedent_count"], rule["consequent_count"]) == (
            count,
            body,
            head,
        )
        assert rule["support"] == pytest.approx(support, rel=1e-12)
        assert rule["confidence"] == pytest.approx(confidence, rel=1e-12)
        assert rule["lift"] == pytest.approx(lift, rel=1e-9)
    itemsets = fim.fpgrowth(baskets, target="s", supp=-10, report="a")
    assert mined.itemsets.height == len(itemsets) == 13488


def test_groceries_any_heads_match_mlxtend(data_dir: Path) -> None:
    baskets = _groceries(data_dir)
    mined = mine_transactions(baskets, min_support=0.001, min_confidence=0.5, max_consequent=None)
    encoder = TransactionEncoder()
    onehot = pd.DataFrame(encoder.fit(baskets).transform(baskets), columns=encoder.columns_)
    itemsets = mlxtend_fpgrowth(onehot, min_support=0.001, use_colnames=True)
    assert len(itemsets) == mined.itemsets.height
    reference = association_rules(
        itemsets, num_itemsets=len(baskets), metric="confidence", min_threshold=0.5
    )
    assert len(reference) == mined.rules.height == 5831
    ours = {
        (frozenset(r["antecedent"]), frozenset(r["consequent"])): r
        for r in mined.rules.iter_rows(named=True)
    }
    for row in reference.itertuples(index=False):
        rule = ours[(frozenset(row.antecedents), frozenset(row.consequents))]
        assert rule["support"] == pytest.approx(row.support, rel=1e-9)
        assert rule["confidence"] == pytest.approx(row.confidence, rel=1e-9)
        assert rule["lift"] == pytest.approx(row.lift, rel=1e-9)
        assert rule["leverage"] == pytest.approx(row.leverage, rel=1e-6, abs=1e-15)
        assert rule["conviction"] == pytest.approx(row.conviction, rel=1e-9)
    # the single-head rules are the same either way
    single = mined.rules.filter(pl.col("consequent").list.len() == 1)
    assert single.height == 5670


def test_items_in_every_basket_are_counted() -> None:
    # pyfim alone drops {milk} here (milk is in every basket); mlxtend does not.
    baskets = [["beer", "milk"], ["milk", "bread"], ["milk", "beer", "bread"]]
    mined = mine_transactions(baskets, min_support=0.3, min_confidence=0.1)
    counts = {tuple(r["items"]): r["count"] for r in mined.itemsets.iter_rows(named=True)}
    assert counts[("milk",)] == 3 and counts[("beer", "milk")] == 2
    encoder = TransactionEncoder()
    onehot = pd.DataFrame(encoder.fit(baskets).transform(baskets), columns=encoder.columns_)
    assert len(mlxtend_fpgrowth(onehot, min_support=0.3)) == mined.itemsets.height
    everything = mine_transactions([["a", "b"], ["a", "b"]], min_support=1.0, min_confidence=0)
    assert everything.itemsets.height == 3 and everything.rules.height == 2
    none = mine_transactions([["a"], ["b"]], min_support=1.0, min_confidence=0)
    assert none.itemsets.height == 0 and none.rules.height == 0


def _lines(baskets: list[list[str]], products: dict[str, int]) -> pl.DataFrame:
    rows = [
        (
            receipt,
            products[item],
            1.0,
            receipt % 2 + 1,
            datetime(2026, 11, 1 + receipt % 20, tzinfo=UTC),
        )
        for receipt, basket in enumerate(baskets, start=1)
        for item in basket
    ]
    return pl.DataFrame(
        rows,
        schema={
            "receipt_id": pl.Int64,
            "product_id": pl.Int64,
            "quantity": pl.Float64,
            "store_id": pl.Int64,
            "at": pl.Datetime("us", "UTC"),
        },
        orient="row",
    )


def test_baskets_from_lines_at_each_level() -> None:
    names = sorted({item for basket in LESSON for item in basket})
    ids = {name: number for number, name in enumerate(names, start=1)}
    lines = _lines(LESSON, ids)
    # a return line and a line of a product without a category
    lines = pl.concat(
        [
            lines,
            lines.head(1).with_columns(
                pl.lit(-1.0).alias("quantity"), pl.lit(99, dtype=pl.Int64).alias("receipt_id")
            ),
        ]
    )
    products = pl.DataFrame(
        {
            "product_id": list(ids.values()),
            "category": [None if n == "cola" else n.upper() for n in ids],
            "brand": ["Acme" if n in ("beer", "cola") else n for n in ids],
        }
    )
    at_product = mine(lines, min_support=0.2, min_confidence=0.5)
    beer = _rule(at_product.rules, [str(ids["beer"])], [str(ids["diapers"])])
    assert beer["confidence"] == pytest.approx(0.75) and at_product.transactions == 5
    at_category = mine(lines, products, level="category", min_support=0.2, min_confidence=0.5)
    assert _rule(at_category.rules, ["BEER"], ["DIAPERS"])["support"] == pytest.approx(0.6)
    assert "COLA" not in {i for items in at_category.itemsets["items"].to_list() for i in items}
    at_brand = basket_items(lines, products, level="brand")
    assert at_brand.filter(pl.col("receipt_id") == 5).height == 2  # Acme once, milk
    first_store = mine(lines, store_id=2, min_support=0.2, min_confidence=0.5)
    assert first_store.transactions == 3  # receipts 1, 3, 5
    early = mine(
        lines, until=datetime(2026, 11, 4, tzinfo=UTC), min_support=0.2, min_confidence=0.5
    )
    assert early.transactions == 2  # receipts 1 and 2 (2 and 3 November)
    with pytest.raises(ColumnError):
        mine(lines.drop("quantity"), min_support=0.2, min_confidence=0.5)
    with pytest.raises(ValueError, match="products"):
        mine(lines, level="category", min_support=0.2, min_confidence=0.5)
    with pytest.raises(ValueError):
        mine(lines, min_support=0, min_confidence=0.5)


@pytest.mark.spark
@pytest.mark.slow
def test_spark_gives_the_same_rules_and_measures(spark, data_dir: Path) -> None:
    from regulars.analytics.engines.spark_basket import mine_spark

    baskets = _groceries(data_dir)
    names = sorted({item for basket in baskets for item in basket})
    ids = {name: number for number, name in enumerate(names, start=1)}
    lines = _lines(baskets, ids)
    products = pl.DataFrame({"product_id": list(ids.values()), "category": list(ids)})
    asked = {
        "level": "category",
        "min_support": 0.005,
        "min_confidence": 0.3,
        "until": datetime(2026, 11, 19, tzinfo=UTC),
        "max_items": 3,  # Spark mines every size and drops the larger ones afterwards
        "min_baskets": 50,  # above 0.5 % of these baskets: the floor decides
    }
    local = mine(lines, products, **asked)
    distributed = mine_spark(spark, lines, products, **asked)
    assert distributed.transactions == local.transactions < len(baskets)
    assert distributed.min_count == local.min_count == 50
    assert local.itemsets["items"].list.len().max() == 3
    assert local.rules.height > 100
    assert distributed.rules.equals(local.rules)
    assert distributed.itemsets.sort("items").equals(local.itemsets.sort("items"))
    # items in every basket, which pyfim alone would miss
    tiny = _lines(
        [["milk", "beer"], ["milk", "bread"], ["milk", "beer", "bread"]],
        {"milk": 1, "beer": 2, "bread": 3},
    )
    small_local = mine(tiny, min_support=0.3, min_confidence=0.1)
    small_spark = mine_spark(spark, tiny, min_support=0.3, min_confidence=0.1)
    assert small_spark.rules.equals(small_local.rules)
    assert small_spark.itemsets.sort("items").equals(small_local.itemsets.sort("items"))
