"""The vectorised checks agree with the domain rules they replace on the hot path."""

from __future__ import annotations

import hashlib

import polars as pl

from regulars.catalog.rules import normalise_barcode
from regulars.core.errors import InvalidInput
from regulars.imports import checks
from regulars.imports.receipt_rows import money_text, receipt_heads
from tests.factories.world import ean13


def _rule(raw: str) -> str | None:
    try:
        return normalise_barcode(raw)
    except InvalidInput:
        return None


def test_barcode_expression_matches_normalise_barcode() -> None:
    good = [ean13(1), ean13(777), "96385074", "036000291452", "4006381333931"]
    wrong = [g[:-1] + str((int(g[-1]) + 1) % 10) for g in good]
    odd = ["1234567", "12345678901", "ABCDEFGH", "١٢٣٤٥٦٧٨", "0000000000000", "00000000"]
    values = good + wrong + odd
    got = pl.DataFrame({"b": values}).select(checks.barcode("b"))["b"].to_list()
    assert got == [_rule(v) for v in values]
    assert got[3] == "0036000291452"  # UPC-A kept in its EAN-13 form


def test_money_text_matches_decimal() -> None:
    cents = [0, 5, -5, 100, 1100, -123456, 1_000_000_000]
    got = pl.DataFrame({"c": cents}).select(money_text(pl.col("c")).alias("c"))["c"].to_list()
    assert got == ["0.00", "0.05", "-0.05", "1.00", "11.00", "-1234.56", "10000000.00"]


def test_content_hash_is_sha256_of_the_canonical_receipt() -> None:
    lines = pl.DataFrame(
        {
            "__line": [2, 3],
            "store": ["S1", "S1"],
            "terminal": ["T1", "T1"],
            "receipt_no": ["R1", "R1"],
            "store_id": [1, 1],
            "terminal_id": [1, 1],
            "at": pl.Series(["2026-11-20T02:15:00+00:00"] * 2).str.to_datetime(time_zone="UTC"),
            "member_key": ["card:C0001", "card:C0001"],
            "member_id": [7, 7],
            "cashier": [None, None],
            "payment_method": ["cash", "cash"],
            "barcode_n": [ean13(1), None],
            "sku": [None, "SKU1"],
            "qty": [2000, 1500],
            "price": [350, 100],
            "disc": [50, 0],
            "amt": [650, 150],
        },
        schema_overrides={"cashier": pl.String},
    )
    head = receipt_heads(lines).row(0, named=True)
    canonical = f"2026-11-20T02:15:00.000000Z#card:C0001##cash#{ean13(1)}||2000|350|50|650;|SKU1|1500|100|0|150"
    assert head["hash"] == hashlib.sha256(canonical.encode()).hexdigest()
    assert (head["total"], head["discount_total"], head["line_count"]) == (800, 50, 2)
    changed = receipt_heads(lines.with_columns(pl.col("qty").reverse())).row(0, named=True)
    assert changed["hash"] != head["hash"]
