"""Churn: rhythm, overdue ratio and status; the monthly trend; the win-back list; and the
validation on Complete Journey against a naive "not seen for 30 days" rule."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import polars as pl
import pytest

from regulars.analytics.calibration import complete_journey
from regulars.analytics.churn import (
    CHURN,
    STATUSES,
    TREND,
    WIN_BACK,
    ChurnRules,
    churn_status,
    churn_trend,
    month_starts,
    win_back,
)
from regulars.analytics.frames import LINES
from regulars.analytics.pyramid import profit_pyramid
from regulars.analytics.rfm import visits

AS_OF = datetime(2024, 7, 1, tzinfo=UTC)


def visits_of(member_days: dict[int, list[float]], *, as_of: datetime = AS_OF) -> pl.DataFrame:
    """One sold line per visit, ``days`` before ``as_of`` for each member."""
    rows = []
    for member, days in member_days.items():
        for day in days:
            rows.append(
                {
                    "receipt_id": len(rows) + 1,
                    "member_id": member,
                    "store_id": 1,
                    "at": as_of - timedelta(days=day),
                    "product_id": 1,
                    "quantity": 1.0,
                    "amount": 10.0,
                    "cost": 6.0,
                }
            )
    return pl.DataFrame(rows, schema=dict(LINES))


def weekly(last: float, count: int = 6) -> list[float]:
    """``count`` visits a week apart, the last ``last`` days ago."""
    return [last + 7 * k for k in range(count)]


def test_statuses_against_each_members_own_rhythm() -> None:
    lines = visits_of(
        {
            1: weekly(3),  # 3 days into a 7-day rhythm: active
            2: weekly(30),  # 30 / 7 = 4.3 > 4: at risk
            3: weekly(60),  # 60 / 7 = 8.6 > 8: churned
            4: [2.0, 60.0],  # two visits: new, whatever the ratio
            5: weekly(130, 3),  # past the 120-day cap: churned
            6: [50.0 + 40 * k for k in range(5)],  # a 40-day rhythm, 50 days: absent > 45 days
        }
    )
    out = churn_status(lines, as_of=AS_OF)
    assert out.columns == list(CHURN)
    assert out.schema == pl.Schema(CHURN)
    assert dict(zip(out["member_id"], out["status"], strict=True)) == {
        1: "active",
        2: "at_risk",
        3: "churned",
        4: "new",
        5: "churned",
        6: "at_risk",
    }
    row = out.row(1, named=True)
    assert row["visits"] == 6
    assert row["rhythm_days"] == pytest.approx(7.0)
    assert row["days_since_last"] == pytest.approx(30.0)
    assert row["overdue_ratio"] == pytest.approx(30 / 7)
    assert set(out["status"]) <= set(STATUSES)


def test_rhythm_is_the_interpolated_quantile_of_the_gaps() -> None:
    # gaps 1, 2, 3, 10 days; the 0.75 quantile at position 2.25: 3 + 0.25 × 7 = 4.75
    lines = visits_of({1: [1.0, 11.0, 14.0, 16.0, 17.0]})
    out = churn_status(lines, as_of=AS_OF)
    assert out["rhythm_days"][0] == pytest.approx(4.75)
    median = churn_status(lines, as_of=AS_OF, rules=ChurnRules(rhythm_quantile=0.5))
    assert median["rhythm_days"][0] == pytest.approx(2.5)


def test_the_rhythm_has_a_floor_and_a_single_visit_none() -> None:
    minutes = [5.0, 5.0 + 1 / 1440, 5.0 + 2 / 1440]
    out = churn_status(visits_of({1: minutes, 2: [3.0]}), as_of=AS_OF)
    assert out["rhythm_days"].to_list()[0] == 1.0
    assert out.row(1, named=True) == {
        "member_id": 2,
        "visits": 1,
        "rhythm_days": None,
        "days_since_last": pytest.approx(3.0),
        "overdue_ratio": None,
        "status": "new",
    }


def test_returns_anonymous_lines_and_the_future_are_not_visits() -> None:
    lines = visits_of({1: weekly(2, 4)})
    extra = pl.DataFrame(
        [
            {"receipt_id": 90, "member_id": 1, "at": AS_OF - timedelta(days=1), "quantity": -1.0},
            {"receipt_id": 91, "member_id": None, "at": AS_OF - timedelta(days=1), "quantity": 1.0},
            {"receipt_id": 92, "member_id": 1, "at": AS_OF + timedelta(days=1), "quantity": 1.0},
        ]
    ).with_columns(
        pl.lit(1).alias("store_id"),
        pl.lit(1).alias("product_id"),
        pl.lit(1.0).alias("amount"),
        pl.lit(None, dtype=pl.Float64).alias("cost"),
    )
    out = churn_status(
        pl.concat([lines, extra.select(list(LINES)).cast(pl.Schema(LINES))]), as_of=AS_OF
    )
    assert out.select("member_id", "visits", "days_since_last").rows() == [
        (1, 4, pytest.approx(2.0))
    ]


def test_rules_are_checked() -> None:
    with pytest.raises(ValueError, match="at_risk_factor"):
        ChurnRules(at_risk_factor=5, churned_factor=3)
    with pytest.raises(ValueError, match="quantile"):
        ChurnRules(rhythm_quantile=1.5)


def test_month_starts() -> None:
    bounds = month_starts(datetime(2024, 3, 15, 12, tzinfo=UTC), 3)
    assert [b.date() for b in bounds] == [
        date(2023, 12, 1),
        date(2024, 1, 1),
        date(2024, 2, 1),
        date(2024, 3, 1),
    ]


def test_churn_trend_counts_the_base_and_who_left_it() -> None:
    as_of = datetime(2024, 4, 10, tzinfo=UTC)
    start = datetime(2024, 1, 1, tzinfo=UTC)
    # Member 1 shops weekly all along; member 2 weekly until mid-January; member 3 weekly
    # until 1 March.

    def days_before(first: datetime, last: datetime) -> list[float]:
        out, at = [], first
        while at <= last:
            out.append((as_of - at) / timedelta(days=1))
            at += timedelta(days=7)
        return out

    lines = visits_of(
        {
            1: days_before(start - timedelta(days=90), as_of - timedelta(days=1)),
            2: days_before(start - timedelta(days=90), start + timedelta(days=14)),
            3: days_before(start - timedelta(days=90), datetime(2024, 3, 1, tzinfo=UTC)),
        },
        as_of=as_of,
    )
    trend = churn_trend(lines, as_of=as_of, months=3)
    assert trend.schema == pl.Schema(TREND)
    assert trend["month"].to_list() == [date(2024, 1, 1), date(2024, 2, 1), date(2024, 3, 1)]
    # Member 2, last seen 9 January on a weekly rhythm: active on 1 February (23 days),
    # at risk on 1 March (52 days > 45), churned on 1 April (83 / 7 > 8). Member 3, last
    # seen 27 February: active on 1 March, at risk on 1 April (34 / 7 > 4).
    assert trend["members"].to_list() == [3, 3, 3]
    assert trend["churned"].to_list() == [0, 0, 1]
    assert trend["churn_rate"].to_list() == pytest.approx([0.0, 0.0, 1 / 3])
    assert trend["at_risk"].to_list() == [0, 1, 1]


def test_win_back_lists_the_most_valuable_first() -> None:
    lines = visits_of({1: weekly(40), 2: weekly(40, 10), 3: weekly(2), 4: weekly(70)})
    churn = churn_status(lines, as_of=AS_OF)
    back = win_back(churn, profit_pyramid(lines, as_of=AS_OF))
    assert back.columns == list(WIN_BACK)
    assert back["member_id"].to_list() == [2, 1, 4]  # profit 40, then 24, 24 (1 at risk first)
    assert back["priority"].to_list() == [1, 2, 3]
    assert back["tier"].null_count() == 0
    plain = win_back(churn)
    assert plain["member_id"].to_list() == [2, 1, 4]
    assert plain["profit"].null_count() == 3


@pytest.fixture(scope="module")
def holdout() -> tuple[pl.DataFrame, pl.DataFrame]:
    """Complete Journey's statuses 8 weeks before its end, and who came back after."""
    lines = complete_journey()["lines"]
    end = datetime(2018, 1, 1, tzinfo=UTC)
    cutoff = end - timedelta(weeks=8)
    later = visits(lines, as_of=end + timedelta(days=1)).filter(pl.col("at") >= cutoff)
    came = later.select("member_id").unique().with_columns(pl.lit(True).alias("came"))
    status = churn_status(lines, as_of=cutoff)
    scored = (
        status.filter(pl.col("status") != "new")
        .join(came, on="member_id", how="left")
        .with_columns(pl.col("came").fill_null(False))
    )
    return status, scored


def precision_recall(flagged: pl.Series, lost: pl.Series) -> tuple[float, float]:
    """Precision and recall of ``flagged`` for ``lost``."""
    hits = (flagged & lost).sum()
    return hits / flagged.sum(), hits / lost.sum()


def test_on_complete_journey_the_status_beats_not_seen_for_30_days(
    holdout: tuple[pl.DataFrame, pl.DataFrame],
) -> None:
    _, scored = holdout
    lost = ~scored["came"]
    flagged = scored["status"].is_in(["at_risk", "churned"])
    precision, recall = precision_recall(flagged, lost)
    naive_p, naive_r = precision_recall(scored["days_since_last"] > 30, lost)
    base_rate = lost.mean()
    assert isinstance(base_rate, float)
    f1, naive_f1 = (
        2 * precision * recall / (precision + recall),
        2 * naive_p * naive_r / (naive_p + naive_r),
    )
    # Measured: precision 0.470, recall 0.572 (F1 0.516) against the naive rule's 0.407,
    # 0.653 (F1 0.501) and a base rate of 0.204, on 2,216 households.
    assert precision > naive_p + 0.03
    assert f1 > naive_f1
    assert precision > 2 * base_rate
    assert recall > 0.5


def test_on_complete_journey_most_members_have_a_status_other_than_new(
    holdout: tuple[pl.DataFrame, pl.DataFrame],
) -> None:
    status, _ = holdout
    counts = dict(status.group_by("status").len().iter_rows())
    assert counts["active"] > counts["at_risk"] > 0
    assert counts["new"] < 0.1 * status.height
