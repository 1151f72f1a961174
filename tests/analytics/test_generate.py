"""The generator: calibrated on Complete Journey, deterministic, in the frames schemas."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest

from regulars.analytics.calibration import (
    CJ_LINE_FRACTION,
    Calibration,
    complete_journey,
    default_calibration,
)
from regulars.analytics.frames import LINES, MEMBERS, PRODUCTS
from regulars.analytics.generate import generate, generate_parquet, thin, write_parquet


@pytest.fixture(scope="module")
def cj() -> dict[str, pl.DataFrame]:
    """Complete Journey as Regulars tables."""
    return complete_journey()


@pytest.fixture(scope="module")
def calibration() -> Calibration:
    """The default calibration: the line sample with the thinning undone."""
    return default_calibration()


@pytest.fixture(scope="module")
def made(calibration: Calibration) -> dict[str, pl.DataFrame]:
    """300,000 generated lines."""
    return generate(300_000, seed=11, calibration=calibration)


def test_the_loader_reads_ids_written_in_scientific_notation(cj: dict[str, pl.DataFrame]) -> None:
    assert cj["lines"].height == 75_000
    assert cj["lines"].schema == pl.Schema(LINES)
    assert cj["products"].schema == pl.Schema(PRODUCTS)
    assert cj["members"].schema == pl.Schema(MEMBERS)
    # R wrote basket 40128000000 as 4.0128e+10 and product 900000 as 9e+05.
    assert 40_128_000_000 in cj["lines"]["receipt_id"].to_list()
    assert 900_000 in cj["products"]["product_id"].to_list()
    assert cj["members"].height == cj["lines"]["member_id"].n_unique() == 2377


def test_costs_leave_a_supermarket_margin(cj: dict[str, pl.DataFrame]) -> None:
    lines = cj["lines"]
    margin = 1 - lines["cost"].sum() / lines["amount"].sum()
    assert margin == pytest.approx(0.238, abs=0.01)


def test_undoing_the_line_sample_recovers_whole_baskets(
    cj: dict[str, pl.DataFrame], calibration: Calibration, data_dir: Path
) -> None:
    observed = Calibration.fit(cj)
    assert observed.mean_basket == pytest.approx(1.59, abs=0.01)
    # Whole baskets of the same retailer (the dunnhumby next-basket splits): 9.38 lines.
    whole = pl.read_csv(data_dir / "dunnhumby-nbr" / "train_baskets_sample.csv")
    whole_mean = whole.group_by("basket_id").len()["len"].mean()
    assert isinstance(whole_mean, float)
    assert calibration.mean_basket == pytest.approx(whole_mean, rel=0.1)
    # 1,469,307 lines over 2,469 households in the full data: 595 a year.
    assert calibration.lines_per_member_day * 365 == pytest.approx(595, rel=0.1)


def test_generation_is_deterministic_and_exact(calibration: Calibration) -> None:
    first = generate(20_000, seed=5, calibration=calibration)
    again = generate(20_000, seed=5, calibration=calibration)
    other = generate(20_000, seed=6, calibration=calibration)
    assert first["lines"].height == 20_000
    for name in ("lines", "members"):
        assert first[name].equals(again[name])
    assert not first["lines"].equals(other["lines"])
    # A larger request starts with the same members.
    bigger = generate(30_000, seed=5, calibration=calibration)
    assert bigger["lines"].head(10_000).equals(first["lines"].head(10_000))


def test_tables_have_the_frames_schemas(made: dict[str, pl.DataFrame]) -> None:
    assert made["lines"].schema == pl.Schema(LINES)
    assert made["members"].schema == pl.Schema(MEMBERS)
    assert made["products"].schema == pl.Schema(PRODUCTS)
    lines = made["lines"]
    assert lines["member_id"].is_in(made["members"]["member_id"].implode()).all()
    assert lines["product_id"].is_in(made["products"]["product_id"].implode()).all()
    assert (
        lines["receipt_id"].n_unique()
        == lines.select("receipt_id", "member_id", "at").unique().height
    )


def test_marginals_match_the_calibration(
    made: dict[str, pl.DataFrame], calibration: Calibration, cj: dict[str, pl.DataFrame]
) -> None:
    lines = made["lines"]
    sizes = lines.group_by("receipt_id").len()["len"]
    assert sizes.mean() == pytest.approx(calibration.mean_basket, rel=0.1)
    per_member_year = lines.height / lines["member_id"].n_unique()
    assert per_member_year == pytest.approx(calibration.lines_per_member_day * 365, rel=0.1)
    real = cj["lines"]
    assert lines["amount"].mean() == pytest.approx(real["amount"].mean(), rel=0.1)
    assert lines["quantity"].median() == real["quantity"].median()

    # Product popularity: the 100 most bought products take a similar share of lines.
    def top_share(frame: pl.DataFrame) -> float:
        counts = frame.group_by("product_id").len()["len"].sort(descending=True)
        return float(counts.head(100).sum() / counts.sum())

    assert top_share(lines) == pytest.approx(top_share(real), rel=0.1)
    # Visit gaps: each member's mean gap, averaged, against the households' levels.
    gaps = (
        lines.select("member_id", "receipt_id", "at")
        .unique()
        .sort("member_id", "at")
        .with_columns(
            (pl.col("at").dt.epoch("us").diff().over("member_id") / 86_400e6).alias("gap")
        )
        .group_by("member_id")
        .agg(pl.col("gap").mean())
        .drop_nulls()["gap"]
    )
    assert gaps.median() == pytest.approx(float(np.median(calibration.gap_scale)), rel=0.15)


def test_thinning_generated_data_gives_back_the_line_sample(
    made: dict[str, pl.DataFrame], cj: dict[str, pl.DataFrame]
) -> None:
    sample = thin(made["lines"], CJ_LINE_FRACTION, seed=2)
    observed = sample.group_by("receipt_id").len()["len"]
    real = cj["lines"].group_by("receipt_id").len()["len"]
    assert observed.mean() == pytest.approx(real.mean(), rel=0.1)
    assert (observed == 1).mean() == pytest.approx((real == 1).mean(), rel=0.1)


def test_parquet_written_in_chunks_equals_the_frames(
    calibration: Calibration, tmp_path: Path
) -> None:
    tables = generate(15_000, seed=9, calibration=calibration)
    paths = generate_parquet(tmp_path / "gen", 15_000, seed=9, calibration=calibration)
    for name, table in tables.items():
        assert pl.read_parquet(paths[name]).equals(table)
    assert sorted(p.name for p in (tmp_path / "gen").iterdir()) == [
        "lines.parquet",
        "members.parquet",
        "products.parquet",
    ]
    written = write_parquet(tables, tmp_path / "plain")
    assert pl.read_parquet(written["lines"]).equals(tables["lines"])


def test_members_can_be_asked_for(calibration: Calibration) -> None:
    tables = generate(50_000, seed=3, members=400, calibration=calibration)
    assert tables["lines"]["member_id"].n_unique() == pytest.approx(400, rel=0.15)
    span = tables["lines"]["at"].max() - tables["lines"]["at"].min()  # type: ignore[operator]
    assert span.days < 365
