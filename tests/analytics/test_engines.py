"""The local and the Spark engine give the same results on the same data.

Tolerance: integer, string, boolean and date columns must be equal; float columns within
1e-9 relative. Both engines sum money as integer ten-thousandths and compute durations on
integer microseconds with the same operations, so in practice the floats are bit-identical
too; the tolerance only keeps the test from depending on how a Spark version orders an
expression.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from polars.testing import assert_frame_equal
from pyspark.sql import SparkSession

from regulars.analytics.calibration import complete_journey
from regulars.analytics.churn import ChurnRules
from regulars.analytics.engines.local import Engine, LocalEngine
from regulars.analytics.engines.spark_engine import SparkEngine
from regulars.analytics.frames import LINES, MEMBERS, PRODUCTS, ColumnError
from regulars.analytics.generate import write_parquet
from regulars.analytics.lifestage import SignalRule
from regulars.analytics.nightly import NightlyOptions, engine_named, nightly
from regulars.analytics.pyramid import PyramidCuts
from regulars.analytics.rfm import RfmCuts

pytestmark = pytest.mark.spark

CJ_AS_OF = datetime(2017, 11, 6, tzinfo=UTC)
AS_OF = datetime(2024, 7, 1, tzinfo=UTC)


def same(local: pl.DataFrame, spark: pl.DataFrame) -> None:
    """Equal frames: exact except floats, which may differ by 1e-9 relative."""
    assert_frame_equal(local, spark, check_exact=False, rel_tol=1e-9, abs_tol=0.0)


@pytest.fixture(scope="module")
def cj_slice() -> dict[str, pl.DataFrame]:
    """Complete Journey's first 400 households (whole histories), and what they bought."""
    tables = complete_journey()
    lines = tables["lines"].filter(pl.col("member_id") <= 400)
    return {
        "lines": lines,
        "products": tables["products"].join(
            lines.select("product_id").unique(), on="product_id", how="semi"
        ),
        "members": tables["members"].filter(pl.col("member_id") <= 400),
    }


def tricky() -> dict[str, pl.DataFrame]:
    """A hand-made table with what tends to split engines apart.

    Ties in every dimension, returns (a return-only receipt, and a mixed one), anonymous
    lines, single-visit members, two receipts at the same instant, unknown costs, half-cent
    amounts, a member without consent and one missing from the members table.
    """
    rows: list[dict[str, Any]] = []

    def line(
        receipt: int,
        member: int | None,
        days: float,
        product: int,
        qty: float,
        amount: float,
        cost: float | None,
    ) -> None:
        rows.append(
            {
                "receipt_id": receipt,
                "member_id": member,
                "store_id": 1 + receipt % 2,
                "at": AS_OF - timedelta(days=days),
                "product_id": product,
                "quantity": qty,
                "amount": amount,
                "cost": cost,
            }
        )

    receipt = 0
    # Members 1–6 with identical histories: ties everywhere.
    for member in range(1, 7):
        for k in range(4):
            receipt += 1
            line(receipt, member, 3 + 7 * k, 1, 1, 10.005, 6.0)
            line(receipt, member, 3 + 7 * k, 2, 2, 3.335, None)
    # Member 7: a return-only receipt and a mixed exchange.
    for k in range(5):
        receipt += 1
        line(receipt, 7, 2 + 5 * k, 3, 1, 20.0, 12.5)
    line(receipt + 1, 7, 1, 3, -1, -20.0, -12.5)
    line(receipt + 2, 7, 0.5, 3, -1, -20.0, -12.5)
    line(receipt + 2, 7, 0.5, 4, 1, 25.0, 14.0)
    receipt += 2
    # Single-visit members, one a loss-maker, two at the same instant.
    for member, amount, cost in ((8, 5.0, 9.0), (9, 5.0, 3.0), (10, 5.0, 3.0)):
        receipt += 1
        line(receipt, member, 40, 5, 1, amount, cost)
    # Anonymous shoppers.
    for k in range(3):
        receipt += 1
        line(receipt, None, 1 + k, 1, 1, 99.0, 10.0)
    # A long rhythm, absent long enough to be at risk, buying baby food and dog food.
    for k in range(6):
        receipt += 1
        line(receipt, 11, 50 + 20 * k, 6, 1, 4.0, 2.0)
        line(receipt, 11, 50 + 20 * k, 7, 1, 6.0, 4.0)
    # Member 12 is gone (past the cap); member 13 is not in the members table.
    for k in range(4):
        receipt += 1
        line(receipt, 12, 200 + 7 * k, 8, 1, 2.5, 1.0)
        receipt += 1
        line(receipt, 13, 3 + 7 * k, 6, 1, 4.0, 2.0)
        line(receipt, 13, 3 + 7 * k, 6, 1, 4.0, 2.0)
    lines = pl.DataFrame(rows, schema=dict(LINES))
    products = pl.DataFrame(
        [
            (1, "GROCERY", "CAT FOOD", "WET", None),
            (2, "GROCERY", "SNACKS", "CHIPS", "cat, salty"),
            (3, "DRUG GM", "DIAPERS & DISPOSABLES", "DIAPERS", None),
            (4, "DRUG GM", "BABY HBC", "WIPES", "baby"),
            (5, "PRODUCE", "FRUIT", "APPLES", None),
            (6, "GROCERY", "BABY FOODS", "JARS", None),
            (7, "GROCERY", "DOG FOODS", "DRY", None),
            (8, None, None, None, None),
        ],
        schema=["product_id", "department", "category", "subcategory", "tags"],
        orient="row",
    ).with_columns(
        pl.lit(None, dtype=pl.String).alias("brand"),
        pl.lit(None, dtype=pl.Int64).alias("manufacturer_id"),
    )
    members = pl.DataFrame(
        [
            {
                "member_id": member,
                "registered_at": AS_OF - timedelta(days=400),
                "consent_analytics": member != 2,
                "consent_personalised": True,
            }
            for member in range(1, 13)
        ],
        schema=dict(MEMBERS),
    )
    return {
        "lines": lines,
        "products": products.select(list(PRODUCTS)).cast(pl.Schema(PRODUCTS)),
        "members": members,
    }


@pytest.fixture(scope="module")
def engines(spark: SparkSession) -> tuple[Engine, Engine]:
    """The local engine and a Spark engine on the test session."""
    return LocalEngine(), SparkEngine(spark)


def compare_all(
    engines: tuple[Engine, Engine], tables: dict[str, pl.DataFrame], as_of: datetime
) -> dict[str, pl.DataFrame]:
    """Run every analysis on both engines, assert they agree, return the local results."""
    results: dict[str, list[pl.DataFrame]] = {}
    rules = ChurnRules(at_risk_factor=3.0, churned_factor=6.0)
    signals = [SignalRule("cat", {"category": ("cat",)}, tags=("cat",), min_lines=1)]
    for engine in engines:
        lines = tables["lines"]
        for name, frame in {
            "rfm": engine.rfm(lines, as_of=as_of),
            "rfm_cuts": engine.rfm(
                lines,
                as_of=as_of,
                cuts=RfmCuts(recency=(7, 14, 30, 60), monetary=(10, 50, 100, 500)),
            ),
            "pyramid": engine.pyramid(lines, as_of=as_of),
            "pyramid_cuts": engine.pyramid(
                lines, as_of=as_of, window_days=30, cuts=PyramidCuts(0.1, 0.2, 0.3)
            ),
            "churn": engine.churn(lines, as_of=as_of),
            "churn_rules": engine.churn(lines, as_of=as_of, rules=rules),
            "trend": engine.churn_trend(lines, as_of=as_of, months=3),
            "life_stage": engine.life_stage(
                lines, tables["products"], tables["members"], as_of=as_of
            ),
            "life_stage_rules": engine.life_stage(
                lines, tables["products"], tables["members"], as_of=as_of, rules=signals
            ),
            "clv_summary": engine.clv_summary(lines, as_of=as_of),
        }.items():
            results.setdefault(name, []).append(frame)
    for name, (local, spark) in results.items():
        assert local.height > 0, name
        same(local, spark)
    return {name: pair[0] for name, pair in results.items()}


@pytest.mark.slow
def test_engines_agree_on_a_tricky_table(engines: tuple[Engine, Engine]) -> None:
    out = compare_all(engines, tricky(), AS_OF)
    rfm = out["rfm"]
    # Members 1–6 tie on every dimension and get the same scores.
    assert (
        rfm.filter(pl.col("member_id") <= 6).select("r_score", "f_score", "m_score").unique().height
        == 1
    )
    assert 13 in rfm["member_id"].to_list() and None not in rfm["member_id"].to_list()
    pyramid = out["pyramid"]
    assert pyramid.filter(pl.col("loss_making"))["member_id"].to_list() == [8]
    signals = out["life_stage"]
    assert 2 not in signals["member_id"].to_list() and 13 not in signals["member_id"].to_list()
    assert set(signals.filter(pl.col("member_id") == 11)["signal"]) == {"baby", "pet_dog"}
    status = dict(out["churn"].select("member_id", "status").iter_rows())
    assert status[12] == "churned" and status[8] == "new" and status[11] == "at_risk"


@pytest.mark.slow
def test_nightly_on_complete_journey_from_parquet_agrees(
    spark: SparkSession, cj_slice: dict[str, pl.DataFrame], tmp_path: Path
) -> None:
    paths = write_parquet(cj_slice, tmp_path)
    options = NightlyOptions(trend_months=2)
    local = nightly(LocalEngine(), paths, as_of=CJ_AS_OF, options=options)
    remote = nightly(SparkEngine(spark), paths, as_of=CJ_AS_OF, options=options)
    assert local.engine == "local" and remote.engine == "spark"
    assert local.frames().keys() == remote.frames().keys()
    assert "clv" in local.frames()
    for name, frame in local.frames().items():
        same(frame, remote.frames()[name])
    assert local.top_share == pytest.approx(remote.top_share, rel=1e-9)
    assert local.clv is not None and remote.clv is not None
    assert local.clv.fit.as_dict() == pytest.approx(remote.clv.fit.as_dict(), rel=1e-6)
    assert set(local.seconds) == {"rfm", "pyramid", "churn", "life_stage", "clv"}
    assert local.rfm.height > 350
    assert set(local.rfm["rfm_segment"]) >= {"champions", "lost", "at_risk"}
    assert local.life_stage.height > 0 and local.churn_trend.height == 2


def test_nightly_without_clv_and_engine_names(cj_slice: dict[str, pl.DataFrame]) -> None:
    result = nightly(engine_named("local"), cj_slice, as_of=CJ_AS_OF, clv_step=None)
    assert result.clv is None and "clv" not in result.frames()
    assert result.pareto["member_share"].to_list()[-1] == 1.0
    assert result.win_back["status"].is_in(["at_risk", "churned"]).all()
    with pytest.raises(ValueError, match="unknown engine"):
        engine_named("duckdb")


def test_the_spark_engine_checks_columns(spark: SparkSession) -> None:
    engine = SparkEngine(spark)
    lines = tricky()["lines"]
    with pytest.raises(ColumnError, match="cost"):
        engine.pyramid(spark.createDataFrame(lines.drop("cost").to_arrow()), as_of=AS_OF)
