"""Vectorised checks of receipt lines: the rules of ``sales.schemas.LineIn`` over a frame.

A till's receipt is validated by Pydantic one object at a time; a file of a million lines
is validated column by column here, with the same limits: codes and receipt numbers by
the same patterns, quantities above zero with three decimals at most, prices and
discounts not negative with two decimals, and ``amount = quantity × unit_price −
discount`` to the cent. Barcodes are checked by their GS1 check digit as an expression
(the rule of ``catalog.rules.normalise_barcode``, with no Python call per value); mobiles
go through the same domain rule as the API, once per distinct value.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import get_args

import polars as pl

from regulars.core.errors import InvalidInput
from regulars.members.rules import normalise_mobile
from regulars.sales.schemas import PaymentMethod

CODE = r"^[0-9A-Za-z_.-]{1,32}$"
RECEIPT_NO = r"^[0-9A-Za-z_./-]{1,64}$"
CARD_NO = r"^[0-9A-Za-z]{4,32}$"
PAYMENT_METHODS = list(get_args(PaymentMethod))
MAX_MONEY_CENTS = 1_000_000_000  # 10,000,000.00 as in the schemas
MAX_QTY_MILLI = 100_000_000  # 100,000 units
MAX_LINES = 500


def scaled(column: str, places: int, *, signed: bool = False) -> pl.Expr:
    """A decimal text column as an integer in units of 10^-places; null when malformed."""
    sign = "-?" if signed else ""
    text = pl.col(column)
    ok = text.str.contains(rf"^{sign}\d{{1,12}}(\.\d{{1,{places}}})?$")
    negative = text.str.starts_with("-")
    body = text.str.strip_prefix("-")
    whole = body.str.extract(r"^(\d+)", 1).cast(pl.Int64, strict=False)
    frac = (
        body.str.extract(r"\.(\d+)$", 1)
        .fill_null("")
        .str.pad_end(places, "0")
        .cast(pl.Int64, strict=False)
    )
    value = whole * (10**places) + frac.fill_null(0)
    return pl.when(ok).then(pl.when(negative).then(-value).otherwise(value)).otherwise(None)


def _zoned(column: str) -> pl.Expr:
    return pl.col(column).str.replace(r"[Zz]$", "+00:00").str.replace(" ", "T", literal=True)


def timestamp(column: str) -> pl.Expr:
    """A date-time text column with its time zone as the instant in UTC; null otherwise."""
    return _zoned(column).str.to_datetime("%Y-%m-%dT%H:%M:%S%.f%z", strict=False, time_zone="UTC")


def naive_timestamp(column: str) -> pl.Expr:
    """Whether a text column is a date-time without a time zone.

    Meant for the few values ``timestamp`` refused: parsing costs about as much as
    ``timestamp`` itself, so it is not run over a whole file.
    """
    return _zoned(column).str.to_datetime("%Y-%m-%dT%H:%M:%S%.f", strict=False).is_not_null()


def normalised(values: pl.Series, rule: Callable[[str], str]) -> dict[str, str | None]:
    """Map each distinct value through a domain rule (``None`` where the rule refuses it)."""
    mapping: dict[str, str | None] = {}
    for raw in values.drop_nulls().unique().to_list():
        try:
            mapping[str(raw)] = rule(str(raw))
        except InvalidInput:
            mapping[str(raw)] = None
    return mapping


def barcode(column: str) -> pl.Expr:
    """A barcode column normalised as the catalogue does; null when it is not a barcode.

    EAN-13, EAN-8 or UPC-A (8, 12 or 13 ASCII digits) with a correct GS1 check digit;
    UPC-A becomes its EAN-13 form with a leading zero. The check digit rule weighs the
    digits 1, 3, 1, 3, … from the right, so the left-padded 13-digit form checks all three.
    """
    text = pl.col(column)
    shaped = text.str.contains(r"^(?:[0-9]{8}|[0-9]{12,13})$")
    padded = text.str.zfill(13)
    weighted = [
        padded.str.slice(i, 1).cast(pl.Int32, strict=False) * (3 if (12 - i) % 2 else 1)
        for i in range(13)
    ]
    valid = shaped & (pl.sum_horizontal(weighted) % 10 == 0)
    normal = pl.when(text.str.len_chars() == 8).then(text).otherwise(padded)
    return pl.when(valid).then(normal).otherwise(None)


def mobiles(values: pl.Series) -> dict[str, str | None]:
    """Distinct mobiles in E.164, as registration normalises them."""
    return normalised(values, normalise_mobile)
