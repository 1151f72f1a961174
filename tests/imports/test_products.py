"""Bulk import of products: good rows load, bad rows are reported, a re-run changes nothing."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import func, select

from regulars.catalog.models import Manufacturer, Product
from regulars.imports.service import import_file
from tests.factories.imports import errors_by_line, write_table
from tests.factories.world import ean13

ROWS: list[dict[str, object]] = [
    {
        "sku": "P1",
        "barcode": ean13(901),
        "name_en": "Apple",
        "department": "PRODUCE",
        "unit_price": "2.50",
        "cost_price": "1.50",
        "manufacturer_code": "M1",
        "manufacturer_name": "Orchard Co",
        "tags": "fresh;local",
    },
    {
        "sku": "P2",
        "barcode": ean13(902)[:-1] + "0" if ean13(902)[-1] != "0" else ean13(902)[:-1] + "1",
    },
    {"sku": "P3", "name_en": "Pear", "unit_price": "-1"},
    {"sku": "P 4", "name_en": "Bad sku"},
    {"sku": "P1", "name_en": "Apple again"},
    {"sku": "P6", "name_en": "Plum", "unit_price": "1.999"},
    {"sku": "P7", "barcode": ean13(901), "name_en": "Same barcode as P1"},
    {"sku": "P8", "name_en": "Kiwi", "manufacturer_code": "M1"},
]


def _count(uow, model) -> int:
    return int(uow.session.scalar(select(func.count()).select_from(model)) or 0)


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_products_good_rows_load_bad_rows_reported_rerun_unchanged(uow, tmp_path, suffix) -> None:
    path = write_table(tmp_path / f"products{suffix}", ROWS)
    before = _count(uow, Product)
    run, outcome = import_file(uow, kind="products", data=path, filename=path.name)
    assert (run.rows_total, run.rows_loaded, run.rows_bad) == (8, 2, 6)
    errors = errors_by_line(outcome)
    assert set(errors) == {3, 4, 5, 6, 7, 8}
    assert errors[3][0][0] == "barcode" and "check digit" in errors[3][0][1]
    assert errors[4][0][0] == "unit_price"
    assert errors[5][0][0] == "sku"
    assert errors[6] == [("sku", "repeats line 2")]
    assert errors[7][0][0] == "unit_price"
    assert errors[8] == [("barcode", "repeats line 2")]
    apple = uow.session.scalars(select(Product).where(Product.sku == "P1")).one()
    assert apple.unit_price == Decimal("2.50") and apple.tags == ["fresh", "local"]
    maker = uow.session.get(Manufacturer, apple.manufacturer_id)
    assert maker is not None and maker.code == "M1" and maker.name == "Orchard Co"
    kiwi = uow.session.scalars(select(Product).where(Product.sku == "P8")).one()
    assert kiwi.manufacturer_id == apple.manufacturer_id
    assert _count(uow, Product) == before + 2

    again, _o = import_file(uow, kind="products", data=path, filename=path.name)
    assert (again.rows_loaded, again.rows_unchanged, again.rows_bad) == (0, 2, 6)
    assert _count(uow, Product) == before + 2
    assert _count(uow, Manufacturer) == 1 + (_count(uow, Manufacturer) - 1)


def test_products_update_price_and_refuse_barcode_of_other_sku(uow, tmp_path) -> None:
    first = write_table(
        tmp_path / "a.csv",
        [
            {"sku": "Q1", "barcode": ean13(911), "unit_price": "1.00"},
            {"sku": "Q2", "barcode": ean13(912)},
        ],
    )
    import_file(uow, kind="products", data=first, filename="a.csv")
    second = write_table(
        tmp_path / "b.csv",
        [{"sku": "Q1", "unit_price": "1.20"}, {"sku": "Q2", "barcode": ean13(911)}],
    )
    run, outcome = import_file(uow, kind="products", data=second, filename="b.csv")
    assert (run.rows_loaded, run.rows_unchanged, run.rows_bad) == (1, 0, 1)
    assert errors_by_line(outcome)[3] == [("barcode", f"barcode {ean13(911)} belongs to SKU Q1")]
    q1 = uow.session.scalars(select(Product).where(Product.sku == "Q1")).one()
    assert q1.unit_price == Decimal("1.20") and q1.barcode == ean13(911)
