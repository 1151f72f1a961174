"""The input tables every analysis takes, and the column check done at each boundary.

The extract step writes these tables as Parquet; tests build them by hand. Money is a float
here (analysis, not accounting); returns are lines with negative quantity and amount.
"""

from __future__ import annotations

from collections.abc import Mapping

import polars as pl

__all__ = ["LINES", "MEMBERS", "PRODUCTS", "RECEIPTS", "TABLES", "ColumnError", "require"]

UTC_TIME = pl.Datetime("us", "UTC")

#: One row per receipt (sales and returns).
RECEIPTS: Mapping[str, pl.DataType] = {
    "receipt_id": pl.Int64(),
    "member_id": pl.Int64(),  # null for an anonymous shopper
    "store_id": pl.Int64(),
    "at": UTC_TIME,
    "total": pl.Float64(),
    "is_return": pl.Boolean(),
}

#: One row per receipt line, with the receipt's member, store and time copied onto it.
LINES: Mapping[str, pl.DataType] = {
    "receipt_id": pl.Int64(),
    "member_id": pl.Int64(),
    "store_id": pl.Int64(),
    "at": UTC_TIME,
    "product_id": pl.Int64(),
    "quantity": pl.Float64(),
    "amount": pl.Float64(),  # what the shopper paid for the line, after discounts
    "cost": pl.Float64(),  # quantity × cost price; null when the cost price is unknown
}

#: The catalogue, flattened.
PRODUCTS: Mapping[str, pl.DataType] = {
    "product_id": pl.Int64(),
    "department": pl.String(),
    "category": pl.String(),
    "subcategory": pl.String(),
    "brand": pl.String(),
    "manufacturer_id": pl.Int64(),
    "tags": pl.String(),  # comma-separated catalogue tags (baby, pet, fresh …)
}

#: Members with the consents analytics must honour.
MEMBERS: Mapping[str, pl.DataType] = {
    "member_id": pl.Int64(),
    "registered_at": UTC_TIME,
    "consent_analytics": pl.Boolean(),
    "consent_personalised": pl.Boolean(),
}

TABLES: Mapping[str, Mapping[str, pl.DataType]] = {
    "receipts": RECEIPTS,
    "lines": LINES,
    "products": PRODUCTS,
    "members": MEMBERS,
}


class ColumnError(ValueError):
    """A table handed to an analysis lacks a column or has it in the wrong type."""


def require(frame: pl.DataFrame, columns: Mapping[str, pl.DataType], name: str) -> pl.DataFrame:
    """Check that ``frame`` has ``columns`` castable to their types; return it cast and trimmed.

    Extra columns are dropped so that an analysis never depends on one it did not ask for.
    """
    missing = [column for column in columns if column not in frame.columns]
    if missing:
        raise ColumnError(f"{name}: missing column(s) {', '.join(missing)}")
    try:
        return frame.select(
            [pl.col(column).cast(dtype, strict=True) for column, dtype in columns.items()]
        )
    except (pl.exceptions.InvalidOperationError, pl.exceptions.ComputeError) as exc:
        raise ColumnError(f"{name}: {exc}") from exc
