"""RFM scores: values, minimum-rank quintiles, fixed cut points and the segment grid."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import polars as pl
import pytest

from regulars.analytics.frames import LINES, ColumnError
from regulars.analytics.rfm import (
    RFM,
    SEGMENT_GRID,
    SEGMENT_NAMES,
    RfmCuts,
    rfm_scores,
    segment_codes,
    visits,
)

AS_OF = datetime(2024, 7, 1, tzinfo=UTC)


def lines_of(rows: list[tuple[Any, ...]]) -> pl.DataFrame:
    """Lines from (receipt, member, days before AS_OF, quantity, amount[, cost]) tuples."""
    return pl.DataFrame(
        [
            {
                "receipt_id": row[0],
                "member_id": row[1],
                "store_id": 1,
                "at": AS_OF - timedelta(days=row[2]),
                "product_id": 100 + row[0],
                "quantity": row[3],
                "amount": row[4],
                "cost": row[5] if len(row) > 5 else None,
            }
            for row in rows
        ],
        schema=dict(LINES),
    )


def test_values_count_visits_net_spend_and_only_the_past() -> None:
    lines = lines_of(
        [
            (1, 1, 10.5, 1, 20.0),
            (1, 1, 10.5, 2, 5.0),  # a second line: one visit
            (2, 1, 3.2, 1, 7.5),
            (3, 1, 2.0, -1, -5.0),  # a return receipt: spend, not a visit
            (4, 1, -1.0, 1, 99.0),  # after as_of
            (5, None, 1.0, 1, 50.0),  # anonymous
            (6, 2, 40.0, 1, 12.0),
            (7, 3, 5.0, -1, -3.0),  # only a return: no visit, not scored
        ]
    )
    out = rfm_scores(lines, as_of=AS_OF)
    assert out.columns == list(RFM)
    assert out.schema == pl.Schema(RFM)
    assert out.select("member_id", "recency_days", "frequency", "monetary").rows() == [
        (1, 3, 2, 27.5),
        (2, 40, 1, 12.0),
    ]


def test_visits_are_receipts_with_a_sold_line() -> None:
    lines = lines_of([(1, 1, 2, 1, 5.0), (1, 1, 2, -1, -5.0), (2, 1, 1, -1, -2.0)])
    assert visits(lines, as_of=AS_OF)["receipt_id"].to_list() == [1]


def test_quintiles_use_the_minimum_rank_so_ties_share_a_score() -> None:
    frequencies = [1, 1, 1, 1, 2, 2, 3, 4, 5, 6]
    rows = []
    receipt = 0
    for member, count in enumerate(frequencies, start=1):
        for k in range(count):
            receipt += 1
            rows.append((receipt, member, 1 + k, 1, 10.0))
    out = rfm_scores(lines_of(rows), as_of=AS_OF)
    # min ranks 1,1,1,1,5,5,7,8,9,10 → 1 + ⌊5 (r − 1) / 10⌋
    assert out["f_score"].to_list() == [1, 1, 1, 1, 3, 3, 4, 4, 5, 5]
    # everyone was last seen one day ago: one tie, score 1 for all
    assert set(out["r_score"].to_list()) == {1}
    # monetary 10 × frequency: the same order as frequency
    assert out["m_score"].to_list() == out["f_score"].to_list()


def test_recency_scores_the_most_recent_highest() -> None:
    rows = [(member, member, float(member * 10), 1, 5.0) for member in range(1, 6)]
    out = rfm_scores(lines_of(rows), as_of=AS_OF)
    assert out["recency_days"].to_list() == [10, 20, 30, 40, 50]
    assert out["r_score"].to_list() == [5, 4, 3, 2, 1]


def test_scores_do_not_depend_on_row_order() -> None:
    rows = [(r, r % 7 + 1, float(r % 11) + 0.25, 1, float(r % 5) * 3.1) for r in range(1, 80)]
    lines = lines_of(rows)
    expected = rfm_scores(lines, as_of=AS_OF)
    shuffled = lines.sample(fraction=1.0, shuffle=True, seed=3)
    assert rfm_scores(shuffled, as_of=AS_OF).equals(expected)


def test_fixed_cut_points_replace_quintiles() -> None:
    rows = [
        (1, 1, 3, 1, 10.0),
        (2, 2, 15, 1, 100.0),
        (3, 2, 16, 1, 150.0),
        (4, 3, 200, 1, 500.0),
    ]
    cuts = RfmCuts(recency=(7, 14, 30, 90), frequency=(2, 3, 5, 10), monetary=(50, 100, 250, 500))
    out = rfm_scores(lines_of(rows), as_of=AS_OF, cuts=cuts)
    assert out.select("member_id", "r_score", "f_score", "m_score").rows() == [
        (1, 5, 1, 1),  # 3 days ≤ 7; 1 visit < 2; 10 < 50
        (2, 3, 2, 4),  # 15 days > 7 and > 14; 2 visits ≥ 2; 250 ≥ 50, 100 and 250
        (3, 1, 1, 5),  # 200 days > 90; 500 ≥ 500
    ]


def test_cut_points_must_be_four_ascending_values() -> None:
    with pytest.raises(ValueError, match="ascending"):
        RfmCuts(recency=(1, 2, 3))
    with pytest.raises(ValueError, match="ascending"):
        RfmCuts(monetary=(1, 5, 5, 9))


def test_the_grid_names_every_cell_with_a_known_segment() -> None:
    codes = segment_codes()
    assert sorted(codes) == list(range(25))
    assert set(codes.values()) == set(SEGMENT_NAMES)
    assert len(SEGMENT_NAMES) == 11
    assert all(len(row) == 5 for row in SEGMENT_GRID.values())
    assert all(english and chinese for english, chinese in SEGMENT_NAMES.values())


@pytest.mark.parametrize(
    ("recency", "frequency", "monetary", "segment"),
    [
        (5, 5, 5, "champions"),
        (1, 1, 1, "lost"),
        (5, 1, 1, "new_customers"),
        (4, 1, 1, "promising"),
        (1, 5, 5, "cant_lose"),
        (2, 4, 3, "at_risk"),  # FM = ⌊(4 + 3 + 1) / 2⌋ = 4
        (3, 3, 3, "need_attention"),
        (3, 1, 2, "about_to_sleep"),
        (2, 1, 1, "hibernating"),
        (4, 4, 4, "loyal"),
        (5, 2, 3, "potential_loyalist"),
    ],
)
def test_segments_come_from_r_and_fm(
    recency: int, frequency: int, monetary: int, segment: str
) -> None:
    # Cut points that make the wanted scores easy to build: recency 5 is 0–1 days, 4 is
    # 2 days …; frequency is the score itself; monetary score s needs s + 0.5 spent.
    cuts = RfmCuts(recency=(1, 2, 3, 4), frequency=(2, 3, 4, 5), monetary=(2, 3, 4, 5))
    days = {5: 0.5, 4: 2.5, 3: 3.5, 2: 4.5, 1: 5.5}[recency]
    rows = [(k, 1, days + k, 1, 0.0) for k in range(1, frequency + 1)]
    rows[0] = (1, 1, days, 1, monetary + 0.5)
    out = rfm_scores(lines_of(rows), as_of=AS_OF, cuts=cuts)
    assert out.select("r_score", "f_score", "m_score").row(0) == (recency, frequency, monetary)
    assert out["rfm_segment"][0] == segment


def test_missing_column_and_naive_time_are_refused() -> None:
    lines = lines_of([(1, 1, 1, 1, 1.0)])
    with pytest.raises(ColumnError, match="amount"):
        rfm_scores(lines.drop("amount"), as_of=AS_OF)
    with pytest.raises(ValueError, match="timezone"):
        rfm_scores(lines, as_of=datetime(2024, 7, 1))  # naive: the point of the test


def test_an_empty_table_gives_an_empty_result() -> None:
    out = rfm_scores(pl.DataFrame(schema=dict(LINES)), as_of=AS_OF)
    assert out.height == 0
    assert out.schema == pl.Schema(RFM)
