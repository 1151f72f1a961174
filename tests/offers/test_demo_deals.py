"""Demo deals from Complete Journey coupons and campaigns."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import polars as pl
from sqlalchemy import select

from regulars.catalog import service as catalog_service
from regulars.core.uow import UnitOfWork
from regulars.demo.deals import cj_deals, demo_deals_load
from regulars.offers.models import Deal
from tests.conftest import SHARED_DATA

COUPONS = pl.DataFrame(
    {
        "coupon_upc": ["100", "100", "100", "200", "300"],
        "product_id": ["1", "2", "3", "4", "5"],
        "campaign_id": ["7", "7", "7", "7", "8"],
    }
)
CAMPAIGNS = pl.DataFrame(
    {
        "campaign_id": ["7", "8"],
        "campaign_type": ["Type B", "Type C"],
        "start_date": ["2017-03-03", "2017-05-01"],
        "end_date": ["2017-04-09", "2017-05-20"],
    }
)
PRODUCTS = pl.DataFrame(
    {
        "product_id": ["1", "2", "3", "4", "5"],
        "manufacturer_id": ["69", "69", "70", "69", ""],
        "product_category": ["MILK", "MILK", "CHEESE", "MILK", "BREAD"],
    }
)


def test_coupons_become_one_deal_per_campaign_maker_and_category() -> None:
    got = cj_deals(COUPONS, CAMPAIGNS, PRODUCTS)
    rows = got.select(
        "code", "manufacturer_code", "target_value", "kind", "value", "manufacturer_share"
    ).rows()
    # Coupons 100 and 200 are both CJM69 milk in campaign 7: one deal; coupon 300 the store's.
    assert rows == [
        ("CJ7-100", "CJM69", "MILK", "amount", "0.50", "100"),
        ("CJ8-300", "", "BREAD", "percent", "10", "0"),
    ]
    assert got["valid_from"][0] == "2017-03-03T00:00:00-06:00"


def test_the_real_files_load_with_every_bad_row_reported(uow: UnitOfWork, tmp_path: Path) -> None:
    source = SHARED_DATA / "completejourney" / "csv"
    for name in ("coupons.csv", "campaign_descriptions.csv"):
        (tmp_path / name).write_bytes((source / name).read_bytes())
    products = pl.read_csv(source / "products.csv", infer_schema_length=0)
    products.head(20_000).write_csv(tmp_path / "products.csv")
    makers = set(products.head(20_000)["manufacturer_id"].drop_nulls().to_list())
    for maker in sorted(makers)[:50]:
        catalog_service.manufacturer_ensure(
            uow, code=f"CJM{maker}", name=f"CJ manufacturer {maker}"
        )
    report = demo_deals_load(uow, directory=tmp_path)
    loaded = list(uow.session.scalars(select(Deal).where(Deal.is_demo.is_(True))))
    assert report.loaded == len(loaded) > 0
    # Deals of manufacturers outside the 50 created are bad rows, each with its line.
    assert all(line >= 2 for line, _reason in report.errors)
    assert (
        report.loaded + len(report.errors)
        == cj_deals(
            pl.read_csv(tmp_path / "coupons.csv", infer_schema_length=0),
            pl.read_csv(tmp_path / "campaign_descriptions.csv", infer_schema_length=0),
            pl.read_csv(tmp_path / "products.csv", infer_schema_length=0),
        ).height
    )
    assert {d.manufacturer_share for d in loaded} <= {Decimal("100"), Decimal("0")}
