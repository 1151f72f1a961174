"""The demo store from a slice of Complete Journey, through the real import path."""

from __future__ import annotations

from decimal import Decimal

import polars as pl
import pytest
from sqlalchemy import func, select

from regulars.catalog.models import Product, Store, Terminal
from regulars.catalog.rules import normalise_barcode
from regulars.demo import convert, rules
from regulars.demo.service import OPENING_REASON, demo_exists, demo_load
from regulars.imports.outcome import Outcome
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
    # Lines with nothing sold (quantity 0) are no lines of the receipt (demo.rules).
    basket = tx.filter(pl.col("basket_id") == first.receipt_no, pl.col("quantity") != "0.0")
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
    # products.csv's 92,331 (one written 9e+05) and one sold product it does not list.
    assert summary.households == 2379 and summary.products == 92332 and summary.lines == 75000
    steps = {s.kind: s for s in summary.steps}
    assert (steps["products"].loaded, steps["products"].bad) == (92332, 0)
    # 415 lines sold nothing (quantity 0) and one has no usable basket id: the rest load.
    assert (steps["receipts"].loaded, steps["receipts"].bad) == (74584, 416)
    unlisted = uow.session.scalars(select(Product).where(Product.sku == "CJ1093587")).one()
    assert unlisted.unit_price == Decimal("4.67") and unlisted.name_en is None
    assert unlisted.needs_review  # nothing is known of it but its price
    assert uow.session.scalars(select(Product).where(Product.sku == "CJ900000")).one()


def _cj_lines(rows: list[tuple[str, str, str, str]]) -> pl.DataFrame:
    """CJ transaction lines (basket, product, quantity, sales value) of one household."""
    frame = pl.DataFrame(
        {
            "household_id": ["7"] * len(rows),
            "store_id": ["1"] * len(rows),
            "basket_id": [r[0] for r in rows],
            "product_id": [r[1] for r in rows],
            "quantity": [r[2] for r in rows],
            "sales_value": [r[3] for r in rows],
            "retail_disc": ["0.0"] * len(rows),
            "coupon_disc": ["0.0"] * len(rows),
            "coupon_match_disc": ["0.0"] * len(rows),
            "week": ["1"] * len(rows),
            "transaction_timestamp": ["2017-01-01 10:00:00"] * len(rows),
        }
    )
    return frame.with_row_index("__line", offset=2).with_columns(pl.col("__line").cast(pl.Int64))


def test_lines_that_sell_nothing_are_reported_and_their_basket_kept() -> None:
    outcome = Outcome()
    priced = convert.transactions_priced(
        _cj_lines(
            [
                ("100", "11", "1.0", "2.50"),  # 2
                ("100", "12", "0.0", "0.0"),  # 3: a coupon scanned alone
                ("200", "11", "-1.0", "2.50"),  # 4: bad
                ("200", "13", "1.0", "1.00"),  # 5: left out with its basket
                ("300", "9e+05", "2.0", "3.00"),  # 6: R's way of writing 900000
            ]
        ),
        outcome,
    )
    assert priced["__line"].to_list() == [2, 6]
    assert priced["product_id"].to_list() == ["11", "900000"]
    reasons = {e.line: (e.column, e.reason) for e in outcome.errors}
    assert reasons[3] == ("quantity", "nothing sold (quantity 0): not a line of the receipt")
    assert reasons[4][0] == "quantity" and reasons[5][0] == "basket_id"


def test_a_sold_product_products_csv_lacks_gets_a_product() -> None:
    listed = pl.DataFrame(
        {
            "product_id": ["11"],
            "manufacturer_id": ["5"],
            "department": ["GROCERY"],
            "brand": ["National"],
            "product_category": ["SOUP"],
            "product_type": ["TOMATO SOUP"],
            "package_size": ["1 L"],
            "__line": [2],
        }
    )
    priced = convert.transactions_priced(
        _cj_lines([("100", "11", "1.0", "2.50"), ("100", "77", "2.0", "3.00")]), Outcome()
    )
    products = convert.products_frame(listed, priced)
    rows = {r["sku"]: r for r in products.iter_rows(named=True)}
    assert set(rows) == {"CJ11", "CJ77"}
    assert (rows["CJ77"]["name_en"], rows["CJ77"]["name_zh"]) == (None, None)
    assert rows["CJ77"]["unit_price"] == "1.50" and rows["CJ77"]["manufacturer_code"] is None
    assert rows["CJ77"]["__line"] == 3  # its first transaction's line
    assert rows["CJ11"]["name_en"] == "Tomato Soup"
