"""Deals of the demo store, derived from Complete Journey's coupons and campaigns.

Complete Journey says which products each coupon covers (``coupons.csv``: coupon UPC,
product, campaign) and when each campaign ran (``campaign_descriptions.csv``), but not what
a coupon is worth. So each coupon becomes one deal on the category most of its products
share, from the manufacturer most of them come from, valid for its campaign's dates:

* value: ¥0.50 off each unit (type A and B campaigns, CJ's mailed coupons) or 10 % off
  (type C, its in-store events) — a rule of this loader, not a figure from the data;
* funding: a manufacturer's coupon is paid by the manufacturer (``coupon_disc`` in CJ's
  transactions), so 100 % manufacturer; coupons whose products have no manufacturer are
  the store's;
* several coupons of one campaign on the same (manufacturer, category) make one deal.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import polars as pl
from sqlalchemy import update

from regulars.core.uow import UnitOfWork
from regulars.demo import rules
from regulars.offers import service as offers
from regulars.offers.models import Deal

__all__ = ["cj_deals", "demo_deals_load"]

AMOUNT_OFF = "0.50"
PERCENT_OFF = "10"


def cj_deals(
    coupons: pl.DataFrame, campaigns: pl.DataFrame, products: pl.DataFrame
) -> pl.DataFrame:
    """Complete Journey coupons as rows of the deal import format (see the module's rules)."""
    joined = (
        coupons.select(
            pl.col("coupon_upc").cast(pl.String),
            pl.col("product_id").cast(pl.String),
            pl.col("campaign_id").cast(pl.String),
        )
        .join(
            products.select(
                pl.col("product_id").cast(pl.String),
                pl.col("manufacturer_id").cast(pl.String),
                pl.col("product_category").cast(pl.String),
            ),
            on="product_id",
            how="inner",
        )
        .filter(pl.col("product_category").is_not_null() & (pl.col("product_category") != ""))
    )
    per_coupon = joined.group_by("campaign_id", "coupon_upc").agg(
        pl.col("manufacturer_id").mode().sort().first().alias("manufacturer_id"),
        pl.col("product_category").mode().sort().first().alias("category"),
    )
    dated = per_coupon.join(
        campaigns.select(
            pl.col("campaign_id").cast(pl.String),
            pl.col("campaign_type").cast(pl.String),
            pl.col("start_date").cast(pl.String),
            pl.col("end_date").cast(pl.String),
        ),
        on="campaign_id",
        how="inner",
    )
    deals = (
        dated.group_by("campaign_id", "manufacturer_id", "category")
        .agg(
            pl.col("coupon_upc").min(),
            pl.col("campaign_type").first(),
            pl.col("start_date").first(),
            pl.col("end_date").first(),
        )
        .sort("campaign_id", "coupon_upc")
    )
    made_by = pl.col("manufacturer_id").is_not_null() & (pl.col("manufacturer_id") != "")
    in_store = pl.col("campaign_type") == "Type C"
    return deals.select(
        pl.concat_str(
            [pl.lit("CJ"), pl.col("campaign_id"), pl.lit("-"), pl.col("coupon_upc")]
        ).alias("code"),
        pl.concat_str(
            [pl.lit("CJ campaign "), pl.col("campaign_id"), pl.lit(": "), pl.col("category")]
        )
        .str.slice(0, 200)
        .alias("title"),
        pl.when(made_by)
        .then(pl.lit(rules.MANUFACTURER_PREFIX) + pl.col("manufacturer_id"))
        .otherwise(pl.lit(""))
        .alias("manufacturer_code"),
        pl.lit("category").alias("target"),
        pl.col("category").str.slice(0, 100).alias("target_value"),
        pl.when(in_store).then(pl.lit("percent")).otherwise(pl.lit("amount")).alias("kind"),
        pl.when(in_store).then(pl.lit(PERCENT_OFF)).otherwise(pl.lit(AMOUNT_OFF)).alias("value"),
        (pl.col("start_date") + pl.lit("T00:00:00-06:00")).alias("valid_from"),
        (pl.col("end_date") + pl.lit("T23:59:59-06:00")).alias("valid_to"),
        pl.when(made_by).then(pl.lit("100")).otherwise(pl.lit("0")).alias("manufacturer_share"),
        pl.when(made_by).then(pl.lit("0")).otherwise(pl.lit("100")).alias("store_share"),
    )


def _csv(frame: pl.DataFrame) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(frame.columns)
    writer.writerows(frame.iter_rows())
    return out.getvalue()


def demo_deals_load(uow: UnitOfWork, *, directory: Path) -> offers.ImportReport:
    """Load the demo store's deals from a Complete Journey ``csv`` directory (re-run safe).

    Call after the demo's products are loaded: deals name their manufacturers, and a deal
    whose manufacturer the catalogue lacks is reported as a bad row.
    """
    read = {"infer_schema_length": 0}
    frame = cj_deals(
        pl.read_csv(directory / "coupons.csv", **read),  # type: ignore[arg-type]
        pl.read_csv(directory / "campaign_descriptions.csv", **read),  # type: ignore[arg-type]
        pl.read_csv(directory / "products.csv", **read),  # type: ignore[arg-type]
    )
    report = offers.deals_import(uow, text=_csv(frame), source="demo")
    uow.session.execute(update(Deal).where(Deal.source == "demo").values(is_demo=True))
    uow.flush()
    return report
