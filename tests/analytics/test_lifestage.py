"""Household life stage: keyword and tag rules, thresholds, consent, and the check against
Complete Journey's demographics."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest

from regulars.analytics.calibration import complete_journey
from regulars.analytics.frames import LINES, MEMBERS, PRODUCTS
from regulars.analytics.lifestage import (
    DEFAULT_RULES,
    LIFE_STAGE,
    SIGNAL_NAMES,
    SignalRule,
    life_stage,
)

AS_OF = datetime(2024, 7, 1, tzinfo=UTC)

PRODUCTS_ROWS = [
    # product_id, department, category, subcategory, tags
    (1, "GROCERY", "BABY FOODS", "BABY FOOD JUNIOR", None),
    (2, "DRUG GM", "Diapers & Disposables", "DIAPERS", None),
    (3, "GROCERY", "DOG FOODS", "DRY DOG FOOD", None),
    (4, "GROCERY", "CAT FOOD", "WET CAT FOOD", None),
    (5, "GROCERY", "COLD CEREAL", "KIDS CEREAL", None),
    (6, "GROCERY", "BREAD", "HOT DOG BUNS", None),  # not a dog
    (7, "GROCERY", "SNACKS", "CRACKERS", "cat, treats"),  # tagged
    (8, "GROCERY", "SNACKS", "CRACKERS", "catering"),  # a tag that only contains "cat"
    (9, "PRODUCE", "FRUIT", "APPLES", None),
]


def products() -> pl.DataFrame:
    """A small catalogue with the categories the default rules look for."""
    return pl.DataFrame(
        [
            {
                "product_id": row[0],
                "department": row[1],
                "category": row[2],
                "subcategory": row[3],
                "brand": None,
                "manufacturer_id": None,
                "tags": row[4],
            }
            for row in PRODUCTS_ROWS
        ],
        schema=dict(PRODUCTS),
    )


def members(consenting: dict[int, bool | None]) -> pl.DataFrame:
    """Members with their analytics consent."""
    return pl.DataFrame(
        [
            {
                "member_id": member,
                "registered_at": AS_OF - timedelta(days=900),
                "consent_analytics": consent,
                "consent_personalised": True,
            }
            for member, consent in consenting.items()
        ],
        schema=dict(MEMBERS),
    )


def lines_of(rows: list[tuple[int, int, float, float]]) -> pl.DataFrame:
    """Lines from (member, product, days before AS_OF, quantity) tuples, one receipt each."""
    return pl.DataFrame(
        [
            {
                "receipt_id": k,
                "member_id": member,
                "store_id": 1,
                "at": AS_OF - timedelta(days=days),
                "product_id": product,
                "quantity": quantity,
                "amount": 2.0 * quantity,
                "cost": None,
            }
            for k, (member, product, days, quantity) in enumerate(rows, start=1)
        ],
        schema=dict(LINES),
    )


def test_signals_need_two_matching_lines_and_say_why() -> None:
    lines = lines_of(
        [
            (1, 1, 10, 1),
            (1, 2, 20, 1),
            (1, 9, 20, 1),
            (1, 9, 30, 1),
            (2, 3, 5, 1),  # one dog line only
            (2, 6, 5, 1),  # hot dog buns are not dog food
            (2, 6, 6, 1),
            (3, 7, 5, 1),
            (3, 7, 6, 1),  # tagged "cat" twice
            (3, 8, 7, 1),
            (3, 8, 8, 1),  # "catering" is not "cat"
        ]
    )
    out = life_stage(lines, products(), members({1: True, 2: True, 3: True}), as_of=AS_OF)
    assert out.columns == list(LIFE_STAGE)
    assert out.schema == pl.Schema(LIFE_STAGE)
    assert out.rows() == [
        (1, "baby", 0.5, "2 of 4 lines: BABY FOODS, Diapers & Disposables"),
        (3, "pet_cat", 0.5, "2 of 4 lines: SNACKS"),
    ]


def test_only_consenting_members_are_returned() -> None:
    rows = [(member, 4, days, 1) for member in (1, 2, 3, 4) for days in (1, 2)]
    out = life_stage(lines_of(rows), products(), members({1: True, 2: False, 3: None}), as_of=AS_OF)
    # 2 refused, 3 never answered, 4 is not in the members table: only 1 is analysed.
    assert out["member_id"].to_list() == [1]


def test_window_returns_and_thresholds() -> None:
    lines = lines_of(
        [
            (1, 3, 10, 1),
            (1, 3, 400, 1),  # outside the 365-day window
            (1, 3, 11, -1),  # a return is not a purchase
            (1, 9, 12, 1),
            (2, 5, 3, 1),
            (2, 5, 4, 1),
            (2, 9, 5, 1),
            (2, 9, 6, 1),
            (2, 9, 7, 1),
            (2, 9, 8, 1),
        ]
    )
    people = members({1: True, 2: True})
    assert life_stage(lines, products(), people, as_of=AS_OF).rows() == [
        (2, "young_children", pytest.approx(2 / 6), "2 of 6 lines: COLD CEREAL"),
    ]
    strict = [SignalRule("young_children", {"subcategory": ("kids",)}, min_share=0.5)]
    assert life_stage(lines, products(), people, as_of=AS_OF, rules=strict).height == 0
    loose = [SignalRule("pet_dog", {"category": ("dog food",)}, min_lines=1)]
    assert life_stage(lines, products(), people, as_of=AS_OF, rules=loose)[
        "member_id"
    ].to_list() == [1]
    wide = life_stage(lines, products(), people, as_of=AS_OF, rules=loose, window_days=500)
    assert wide["evidence"].to_list() == ["2 of 3 lines: DOG FOODS"]


def test_rules_are_checked_and_every_signal_is_named() -> None:
    with pytest.raises(ValueError, match="brand"):
        SignalRule("x", {"brand": ("acme",)})
    assert {rule.signal for rule in DEFAULT_RULES} <= set(SIGNAL_NAMES)
    assert {"baby", "young_children", "pet_dog", "pet_cat"} <= set(SIGNAL_NAMES)


def test_on_complete_journey_kid_signals_find_households_with_kids(data_dir: Path) -> None:
    tables = complete_journey()
    out = life_stage(
        tables["lines"],
        tables["products"],
        tables["members"],
        as_of=datetime(2018, 1, 2, tzinfo=UTC),
    )
    demographics = pl.read_csv(
        data_dir / "completejourney" / "csv" / "demographics.csv",
        schema_overrides={"household_id": pl.Int64, "kids_count": pl.String},
    )
    flagged = (
        out.filter(pl.col("signal").is_in(["baby", "young_children"]))
        .select(pl.col("member_id").alias("household_id"))
        .unique()
        .with_columns(pl.lit(True).alias("flagged"))
    )
    judged = demographics.join(flagged, on="household_id", how="left").with_columns(
        pl.col("flagged").fill_null(False), (pl.col("kids_count") != "0").alias("kids")
    )
    hits = (judged["flagged"] & judged["kids"]).sum()
    precision = hits / judged["flagged"].sum()
    recall = hits / judged["kids"].sum()
    base_rate = judged["kids"].mean()
    assert isinstance(base_rate, float)
    # Measured on the 801 households with demographics: precision 0.551, recall 0.260,
    # base rate 0.360. The line sample holds about 1 line in 20, hence the low recall.
    assert precision > base_rate + 0.12
    assert recall > 0.2
    assert {"pet_dog", "pet_cat"} <= set(out["signal"])
