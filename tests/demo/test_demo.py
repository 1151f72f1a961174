"""The demo store from a slice of Complete Journey, through the real import path."""

from __future__ import annotations

from decimal import Decimal

import polars as pl
import pytest
from sqlalchemy import func, select

from regulars.catalog.models import Product, Store, Terminal
from regulars.catalog.rules import normalise_barcode
from regulars.demo import rules
from regulars.demo.service import OPENING_REASON, demo_exists, demo_load
from regulars.loyalty.models import PointsLine
from regulars.loyalty.queries import points_summary
from regulars.members.models import Member
from regulars.members.queries import consenting_member_ids
from regulars.sales.models import Receipt, ReceiptLine

LIMIT = 2000


@pytest.fixture
def data_dir(settings):
    return settings.shared_data_dir / "completejourney" / "csv"


def test_rules_give_valid_numbers() -> None:
    assert rules.mobile_for(2261) == "13900002261"
    barcode = rules.barcode_for(940996)
    assert barcode.startswith("20") and normalise_barcode(barcode) == barcode


def test_demo_slice_loads_members_products_stores_and_baskets(uow, data_dir) -> None:
    assert not demo_exists(uow)
    summary = demo_load(uow, data_dir=data_dir, limit_lines=LIMIT)
    assert demo_exists(uow)
    tx = pl.read_csv(data_dir / "transactions_sample.csv", infer_schema=False, n_rows=LIMIT)
    households = tx["household_id"].n_unique()
    demo = pl.read_csv(data_dir / "demographics.csv", infer_schema=False)
    with_demo = demo.filter(pl.col("household_id").is_in(tx["household_id"].implode()))
    members = uow.session.scalars(select(Member).where(Member.is_demo.is_(True))).all()
    assert len(members) == households == summary.households
    profiled = [m for m in members if m.age_band is not None]
    assert len(profiled) == with_demo.height > 0
    sample = next(m for m in profiled if m.external_ref == f"cj-{with_demo['household_id'][0]}")
    row = with_demo.row(0, named=True)
    assert (sample.age_band, sample.income_band, sample.household_composition) == (
        row["age"],
        row["income"],
        row["household_comp"],
    )
    assert sample.extra["kids_count"] == row["kids_count"]
    assert sample.mobile_masked is not None and sample.mobile_masked.startswith("139")

    products = uow.session.scalars(select(Product).where(Product.is_demo.is_(True))).all()
    assert len(products) == summary.products > 0
    assert all(p.manufacturer_id is not None for p in products)
    assert all(p.barcode and p.barcode.startswith("20") for p in products)
    priced = [p for p in products if p.unit_price is not None]
    assert priced and all(p.cost_price is not None and p.cost_price <= p.unit_price for p in priced)

    stores = uow.session.scalars(select(Store).where(Store.is_demo.is_(True))).all()
    assert len(stores) == tx["store_id"].n_unique()
    assert set(uow.session.scalars(select(Terminal.code))) >= {"T01"}

    receipts = uow.session.scalars(select(Receipt).where(Receipt.source == "demo")).all()
    assert len(receipts) == summary.baskets
    receipt_step = next(s for s in summary.steps if s.kind == "receipts")
    assert receipt_step.total == LIMIT and receipt_step.loaded + receipt_step.bad == LIMIT
    first = receipts[0]
    basket = tx.filter(pl.col("basket_id") == first.receipt_no)
    assert first.line_count == basket.height
    assert first.total == sum((Decimal(v) for v in basket["sales_value"]), Decimal(0)).quantize(
        Decimal("0.01")
    )
    assert first.member_id is not None
    lines = uow.session.scalars(select(ReceiptLine).where(ReceiptLine.receipt_id == first.id)).all()
    for line in lines:
        assert line.amount == line.quantity * line.unit_price - line.discount
        assert line.discount >= 0
    bought = int(
        uow.session.scalar(
            select(func.count()).select_from(Member).where(Member.first_purchase_at.is_not(None))
        )
        or 0
    )
    assert bought > 0

    # Opening balances: 1 point per ¥ of the member's sales, one ledger line each.
    spent = int(
        sum(r.total for r in receipts if r.member_id == first.member_id and r.kind == "sale")
    )
    opening = uow.session.scalars(
        select(PointsLine).where(
            PointsLine.member_id == first.member_id, PointsLine.reason == OPENING_REASON
        )
    ).all()
    assert [line.points for line in opening] == [spent] and summary.opening_points > 0
    assert points_summary(uow, member_id=first.member_id).balance == spent

    assert summary.consents == 3 * households
    refusing = next(m for m in members if m.external_ref.endswith("0"))
    personalised = consenting_member_ids(
        uow.session,
        purpose="personalised_offers",
        channel="sms",
        member_ids=[m.id for m in members],
    )
    assert refusing.id not in personalised and len(personalised) > households // 2

    again = demo_load(uow, data_dir=data_dir, limit_lines=LIMIT)
    assert all(step.loaded == 0 for step in again.steps)
    assert again.consents == 0
    assert again.opening_points == 0  # no member gets a second opening balance


@pytest.mark.slow
def test_whole_demo_loads(uow, data_dir) -> None:
    summary = demo_load(uow, data_dir=data_dir)
    assert summary.households == 2379 and summary.products == 92331 and summary.lines == 75000
    receipts = next(s for s in summary.steps if s.kind == "receipts")
    assert receipts.loaded + receipts.bad == 75000 and receipts.loaded > 74000
