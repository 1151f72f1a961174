"""Complete Journey as Regulars tables, and the distributions the generator draws from.

:func:`complete_journey` reads the CSVs in place into the lines, products and members tables
of :mod:`regulars.analytics.frames`. :class:`Calibration` fits, on any lines table, what
:mod:`regulars.analytics.generate` needs: basket sizes, each household's visit gaps and the
pool of real lines. See :mod:`regulars.analytics.generate` for how the line sample of
Complete Journey is un-thinned and why costs are derived with an assumed margin.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import polars as pl
from scipy import optimize, stats

from regulars.analytics.frames import LINES, MEMBERS, PRODUCTS, require
from regulars.analytics.rfm import DAY_US

__all__ = [
    "CJ_LINE_FRACTION",
    "COMPLETE_JOURNEY",
    "START",
    "Calibration",
    "complete_journey",
    "default_calibration",
]

COMPLETE_JOURNEY = (
    Path(__file__).resolve().parents[4] / "shared" / "data" / "completejourney" / "csv"
)

#: transactions_sample.csv holds 75,000 of the full data's 1,469,307 lines.
CJ_LINE_FRACTION = 75_000 / 1_469_307

#: The largest basket the deconvolution considers.
MAX_BASKET = 400
#: Where Complete Journey's year starts, and generated data by default.
START = datetime(2017, 1, 1, tzinfo=UTC)


def _id(column: str) -> pl.Expr:
    """An id column that R wrote in scientific notation when shorter (9e+05 = 900000)."""
    return pl.col(column).cast(pl.Float64).cast(pl.Int64, strict=True)


def complete_journey(
    directory: Path = COMPLETE_JOURNEY, *, margin: float = 0.35
) -> dict[str, pl.DataFrame]:
    """Complete Journey as the lines, products and members tables (see the module doc).

    Households are members (all consenting); baskets are receipts; timestamps, which the
    data gives without a zone, are taken as UTC; ``amount`` is ``sales_value``; ``cost``
    is the regular price less ``margin`` (see :mod:`regulars.analytics.generate`).
    """
    raw = pl.read_csv(
        directory / "transactions_sample.csv",
        schema_overrides={
            "household_id": pl.String,
            "basket_id": pl.String,
            "product_id": pl.String,
        },
        try_parse_dates=True,
    )
    regular = pl.col("sales_value") + pl.col("retail_disc") + pl.col("coupon_match_disc")
    lines = raw.select(
        _id("basket_id").alias("receipt_id"),
        _id("household_id").alias("member_id"),
        pl.col("store_id").cast(pl.Int64),
        pl.col("transaction_timestamp")
        .dt.replace_time_zone("UTC")
        .dt.cast_time_unit("us")
        .alias("at"),
        _id("product_id").alias("product_id"),
        pl.col("quantity").cast(pl.Float64),
        pl.col("sales_value").cast(pl.Float64).alias("amount"),
        (regular * (1 - margin)).alias("cost"),
    )
    catalogue = pl.read_csv(
        directory / "products.csv",
        schema_overrides={"product_id": pl.String, "manufacturer_id": pl.String},
    )
    products = catalogue.select(
        _id("product_id").alias("product_id"),
        pl.col("department"),
        pl.col("product_category").alias("category"),
        pl.col("product_type").alias("subcategory"),
        pl.col("brand"),
        _id("manufacturer_id").alias("manufacturer_id"),
        pl.lit(None, dtype=pl.String).alias("tags"),
    )
    # Five products of the line sample (zero-quantity lines) are missing from products.csv;
    # they get a row without attributes, as an unknown barcode does at the till.
    unknown = (
        lines.select("product_id")
        .unique()
        .join(products, on="product_id", how="anti")
        .with_columns(
            [
                pl.lit(None, dtype=dtype).alias(name)
                for name, dtype in PRODUCTS.items()
                if name != "product_id"
            ]
        )
    )
    products = pl.concat([products, unknown.select(list(PRODUCTS))], how="vertical_relaxed")
    members = (
        lines.group_by("member_id")
        .agg(pl.col("at").min().alias("registered_at"))
        .with_columns(
            pl.lit(True).alias("consent_analytics"), pl.lit(True).alias("consent_personalised")
        )
        .sort("member_id")
    )
    return {
        "lines": require(lines, LINES, "lines"),
        "products": require(products, PRODUCTS, "products"),
        "members": require(members, MEMBERS, "members"),
    }


def _thinned_sizes(counts: np.ndarray, p: float) -> np.ndarray:
    """True basket-size probabilities (index = size, 1 … MAX_BASKET) behind thinned counts.

    ``counts[k]`` is the number of receipts showing k lines. The true size N is 1 + a negative
    binomial (size r, mean m − 1); each line shows with probability p; receipts showing none
    are unseen. The two parameters maximise the likelihood of the counts given k ≥ 1.
    """
    sizes = np.arange(1, MAX_BASKET + 1)
    ks = np.arange(len(counts))
    shown = stats.binom.pmf(ks[None, :], sizes[:, None], p)  # [N, k]

    def truth(params: np.ndarray) -> np.ndarray:
        r, mean = np.exp(params)
        prob = r / (r + mean)
        pmf = np.asarray(stats.nbinom.pmf(sizes - 1, r, prob), dtype=np.float64)
        return np.asarray(pmf / pmf.sum(), dtype=np.float64)

    def loss(params: np.ndarray) -> float:
        seen = truth(params) @ shown
        visible = seen[1:] / max(1.0 - seen[0], 1e-300)
        return -float(counts[1:] @ np.log(np.maximum(visible, 1e-300)))

    fit = optimize.minimize(loss, x0=np.log([1.0, 8.0]), method="Nelder-Mead")
    return np.concatenate([[0.0], truth(fit.x)])


@dataclass(frozen=True)
class Calibration:
    """The distributions the generator draws from, fitted on a lines table."""

    basket_p: np.ndarray  # P(basket has k lines), index k = 0 … max
    gap_offsets: np.ndarray  # per household: where its gaps start in ``gaps``
    gap_counts: np.ndarray  # and how many (a household without gaps points at all of them)
    gaps: np.ndarray  # gaps between consecutive visits over their household's mean gap
    gap_scale: np.ndarray  # per household: its mean days between (unthinned) visits
    line_offsets: np.ndarray  # per household: where its lines start in ``pool``
    line_counts: np.ndarray
    pool: pl.DataFrame  # product_id, quantity, amount, cost, store_id, sorted by household
    products: pl.DataFrame
    lines_per_member_day: float

    @property
    def mean_basket(self) -> float:
        """The mean number of lines per receipt."""
        return float(np.arange(len(self.basket_p)) @ self.basket_p)

    @property
    def mean_gap(self) -> float:
        """The mean over households of their mean days between visits."""
        return float(self.gap_scale.mean())

    @classmethod
    def fit(cls, tables: Mapping[str, pl.DataFrame], *, line_fraction: float = 1.0) -> Calibration:
        """Fit on ``tables`` (lines, products); ``line_fraction`` < 1 undoes line sampling."""
        lines = require(tables["lines"], LINES, "lines").filter(pl.col("member_id").is_not_null())
        receipts = (
            lines.group_by("receipt_id")
            .agg(pl.col("member_id").first(), pl.col("at").min(), pl.len().alias("size"))
            .sort("member_id", "at", "receipt_id")
        )
        counts = np.bincount(receipts["size"].to_numpy())
        if line_fraction < 1.0:
            basket_p = _thinned_sizes(counts.astype(float), line_fraction)
            sizes = np.arange(len(basket_p))
            seen_share = float(basket_p @ (1.0 - (1.0 - line_fraction) ** sizes))
        else:
            basket_p = counts / counts.sum()
            seen_share = 1.0
        households = lines["member_id"].unique().sort()
        index = {int(h): i for i, h in enumerate(households.to_list())}
        span_days = _span_days(lines)
        with_gaps = receipts.with_columns(
            (pl.col("at").dt.epoch("us").diff().over("member_id") / DAY_US).alias("gap")
        )
        # Each household's level: span / visits (seen visits are a share ``seen_share`` of
        # the real ones); its gaps, divided by their mean, give only the shape. Measuring the
        # level from the gaps alone would overrate rare shoppers, whose few visits span less
        # than the year.
        per_household = with_gaps.group_by("member_id").agg(
            pl.len().alias("visits"), pl.col("gap").drop_nulls().mean().alias("mean_gap")
        )
        gap_scale = np.zeros(len(households))
        usable = np.zeros(len(households), dtype=bool)
        for member, seen, mean_gap in per_household.iter_rows():
            gap_scale[index[member]] = span_days * seen_share / seen
            usable[index[member]] = mean_gap is not None and mean_gap > 0
        shaped = with_gaps.filter(pl.col("gap").is_not_null()).with_columns(
            (pl.col("gap") / pl.col("gap").mean().over("member_id")).alias("shape")
        )
        shaped = shaped.join(
            pl.DataFrame({"member_id": households, "usable": usable}), on="member_id"
        ).filter(pl.col("usable"))
        shapes = shaped["shape"].to_numpy()
        pooled = shapes / shapes.mean() if len(shapes) else np.ones(1)
        gap_counts = np.zeros(len(households), dtype=np.int64)
        for member, n in shaped.group_by("member_id").len().iter_rows():
            gap_counts[index[member]] = n
        gap_offsets = np.concatenate([[0], np.cumsum(gap_counts)[:-1]])
        # Households without a usable gap draw the shape of everyone's gaps.
        gap_offsets[~usable] = len(shapes)
        gap_counts[~usable] = len(pooled)
        gaps = np.concatenate([shapes, pooled])
        pool = lines.sort("member_id", "at", "receipt_id").select(
            "member_id", "product_id", "quantity", "amount", "cost", "store_id"
        )
        line_counts = np.zeros(len(households), dtype=np.int64)
        for member, n in pool.group_by("member_id").len().iter_rows():
            line_counts[index[member]] = n
        line_offsets = np.concatenate([[0], np.cumsum(line_counts)[:-1]])
        products = require(tables["products"], PRODUCTS, "products").join(
            pool.select("product_id").unique(), on="product_id", how="semi"
        )
        return cls(
            basket_p=basket_p,
            gap_offsets=gap_offsets,
            gap_counts=gap_counts,
            gaps=gaps,
            gap_scale=gap_scale,
            line_offsets=line_offsets,
            line_counts=line_counts,
            pool=pool.drop("member_id"),
            products=products.sort("product_id"),
            lines_per_member_day=lines.height / line_fraction / len(households) / span_days,
        )


def _span_days(lines: pl.DataFrame) -> float:
    """The days between the first and the last line of a table."""
    stamps = pl.col("at").dt.epoch("us")
    first, last = lines.select(stamps.min().alias("first"), stamps.max().alias("last")).row(0)
    return float(last - first) / DAY_US


_DEFAULT: dict[Path, Calibration] = {}


def default_calibration(directory: Path = COMPLETE_JOURNEY) -> Calibration:
    """The calibration on Complete Journey's line sample with the thinning undone (cached)."""
    if directory not in _DEFAULT:
        _DEFAULT[directory] = Calibration.fit(
            complete_journey(directory), line_fraction=CJ_LINE_FRACTION
        )
    return _DEFAULT[directory]
