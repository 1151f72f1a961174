"""The whole analytics run on a Complete Journey slice: extract, analyse, store, show."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import polars as pl
import pytest
from sqlalchemy import func, select

from regulars.analytics.extract import extract_to_parquet
from regulars.demo.service import demo_load
from regulars.insights import queries
from regulars.insights.models import MemberScore, MemberSignal
from regulars.jobs.analytics import analytics_compute, analytics_run_in
from regulars.members.queries import consenting_member_ids
from regulars.sales.models import Receipt

LIMIT = 4000
AS_OF = datetime(2018, 2, 1, tzinfo=UTC)  # after the last CJ basket


@pytest.fixture
def demo(uow, settings):
    """A slice of the demo store (members with sign-up consents, products, receipts)."""
    demo_load(uow, data_dir=settings.shared_data_dir / "completejourney" / "csv", limit_lines=LIMIT)
    return uow


def test_run_scores_every_buying_member_and_keeps_signals_to_consent(demo) -> None:
    uow = demo
    run = analytics_run_in(uow, as_of=AS_OF, started_by="test")
    buyers = uow.session.scalar(
        select(func.count(func.distinct(Receipt.member_id))).where(Receipt.member_id.is_not(None))
    )
    scored = uow.session.scalar(
        select(func.count()).select_from(MemberScore).where(MemberScore.run_id == run.id)
    )
    assert run.status == "done" and scored == buyers > 50
    summary = run.summary
    assert sum(summary["segments"].values()) == summary["members"] == buyers
    assert {t["tier"] for t in summary["tiers"]} == {"platinum", "gold", "iron", "lead"}
    assert abs(sum(t["profit_share"] for t in summary["tiers"]) - 1.0) < 1e-9
    assert 0.2 < summary["top20_share"] <= 1.0
    assert summary["pareto"][0] == [0.0, 0.0] and summary["pareto"][-1][0] == 1.0
    assert set(summary["churn"]) <= {"active", "at_risk", "churned", "new"}
    assert summary["clv"]["params"]["r"] > 0 and summary["clv"]["total"] > 0
    consenting = consenting_member_ids(uow.session, purpose="analytics", channel="sms")
    signalled = set(
        uow.session.scalars(select(MemberSignal.member_id).where(MemberSignal.run_id == run.id))
    )
    assert signalled and signalled <= consenting
    best = queries.members_scored(
        uow.session, run_id=run.id, filters={"tier": "platinum"}, order="profit", limit=1
    )[1][0]
    worst = queries.members_scored(
        uow.session, run_id=run.id, filters={"tier": "lead"}, order="profit", limit=1000
    )[1][-1]
    assert best.profit > worst.profit
    assert best.clv is not None and 0.0 <= best.p_alive <= 1.0


@pytest.mark.spark
@pytest.mark.slow
@pytest.mark.nodb  # the extract is tested on both databases; this compares the engines
def test_spark_engine_gives_the_local_scores(demo, tmp_path) -> None:
    snapshot = extract_to_parquet(demo.session.connection(), tmp_path, as_of=AS_OF)
    local = analytics_compute(snapshot, engine="local")
    spark = analytics_compute(snapshot, engine="spark", parquet_dir=tmp_path)
    left, right = local.scores.sort("member_id"), spark.scores.sort("member_id")
    assert left.columns == right.columns and left.height == right.height
    for column in left.columns:
        a, b = left[column], right[column]
        if a.dtype.is_float():
            assert ((a - b).abs() <= 1e-6 * (1 + a.abs())).all(), column
        else:
            assert a.to_list() == b.to_list(), column
    assert local.signals.sort(["member_id", "signal"])["signal"].to_list() == (
        spark.signals.sort(["member_id", "signal"])["signal"].to_list()
    )
    assert local.summary["segments"] == spark.summary["segments"]
    assert isinstance(local.frames["pareto"], pl.DataFrame)


def test_a_run_without_a_time_stops_just_past_the_newest_receipt(demo) -> None:
    """The demo's 2017 data (or tills gone quiet) must not make every member "churned"."""
    uow = demo
    newest = uow.session.scalar(select(func.max(Receipt.occurred_at)))
    run = analytics_run_in(uow)
    assert run.as_of == newest.replace(microsecond=0) + timedelta(seconds=1) or (
        run.as_of - newest
    ) == timedelta(seconds=1)
    assert run.summary["churn"].get("active", 0) > 0
    assert run.summary["tiers"][0]["members"] > 0
