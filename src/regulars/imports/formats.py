"""The file formats of bulk imports and how a file becomes a frame of strings.

Every column is read as text, so a bad value is reported exactly as it was written, with
its 1-based line in the file (the header is line 1, the first data row line 2). The
formats themselves are documented in ``docs/import-formats.md``.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Literal

import polars as pl

from regulars.catalog.schemas import PRODUCT_TEXT_FIELDS
from regulars.core.errors import InvalidInput
from regulars.core.i18n import _

Kind = Literal["members", "products", "receipts", "returns"]
KINDS: tuple[Kind, ...] = ("members", "products", "receipts", "returns")
LINE = "__line"

MEMBER_COLUMNS = (
    "card_no",
    "mobile",
    "external_ref",
    "name",
    "gender",
    "birthday",
    "address",
    "community",
    "occupation",
    "hobbies",
    "preferences",
    "delivery_needs",
    "household_size",
    "children_birth_years",
    "pets",
    "household_composition",
    "age_band",
    "income_band",
)
# What staff type for a product, and the name of a manufacturer the file may add.
PRODUCT_COLUMNS = (*PRODUCT_TEXT_FIELDS, "manufacturer_name")
RECEIPT_COLUMNS = (
    "store",
    "terminal",
    "receipt_no",
    "occurred_at",
    "cashier",
    "member_card",
    "member_mobile",
    "member_ref",
    "barcode",
    "sku",
    "quantity",
    "unit_price",
    "discount",
    "amount",
    "payment_method",
)
# A return, one row per returned line: its own key and time, the original receipt and the
# number of the original line returned (as on the receipt, from 1).
RETURN_COLUMNS = (
    "store",
    "terminal",
    "receipt_no",
    "occurred_at",
    "cashier",
    "original_store",
    "original_terminal",
    "original_receipt_no",
    "line_no",
    "quantity",
    "amount",
    "payment_method",
    "reason",
)
COLUMNS: dict[Kind, tuple[str, ...]] = {
    "members": MEMBER_COLUMNS,
    "products": PRODUCT_COLUMNS,
    "receipts": RECEIPT_COLUMNS,
    "returns": RETURN_COLUMNS,
}
REQUIRED: dict[Kind, tuple[str, ...]] = {
    "members": (),
    "products": ("sku",),
    "receipts": (
        "store",
        "terminal",
        "receipt_no",
        "occurred_at",
        "quantity",
        "unit_price",
        "amount",
    ),
    "returns": (
        "store",
        "terminal",
        "receipt_no",
        "occurred_at",
        "original_receipt_no",
        "line_no",
        "quantity",
    ),
}
# Members may carry free household attributes as ``extra_<key>`` columns (kept in ``extra``).
EXTRA_PREFIX = "extra_"
LIST_SEPARATOR = ";"


def check_kind(kind: str) -> Kind:
    """Return ``kind`` if it is an import kind, or raise ``InvalidInput``."""
    if kind not in KINDS:
        raise InvalidInput(
            _("unknown import kind {kind}; use members, products, receipts or returns"),
            field="kind",
            kind=kind,
        )
    return kind


def file_format(filename: str) -> Literal["csv", "parquet"]:
    """Tell the format from the file name: ``.csv`` or ``.parquet``."""
    lower = filename.lower()
    if lower.endswith((".csv", ".txt")):
        return "csv"
    if lower.endswith((".parquet", ".pq")):
        return "parquet"
    raise InvalidInput(_("{name} is not a CSV or Parquet file"), field="file", name=filename)


def read_frame(source: Path | bytes, *, filename: str, kind: Kind) -> pl.DataFrame:
    """Read a CSV or Parquet file into a frame of strings with its line numbers.

    Raises ``InvalidInput`` naming the problem when the file cannot be read, has no header,
    or lacks a required column; unknown columns are refused too (a typo would otherwise
    silently drop a field).
    """
    fmt = file_format(filename)
    data: Path | io.BytesIO = source if isinstance(source, Path) else io.BytesIO(source)
    try:
        if fmt == "csv":
            frame = pl.read_csv(
                data, infer_schema=False, encoding="utf8", truncate_ragged_lines=False
            )
        else:
            frame = pl.read_parquet(data)
            frame = frame.with_columns(pl.all().cast(pl.String))
    except Exception as exc:  # polars raises many error types for broken files
        raise InvalidInput(
            _("{name} cannot be read: {reason}"),
            field="file",
            name=filename,
            reason=str(exc).splitlines()[0],
        ) from exc
    return check_columns(frame, kind=kind, filename=filename)


def check_columns(frame: pl.DataFrame, *, kind: Kind, filename: str) -> pl.DataFrame:
    """Trim names and values, add the line numbers, and check the columns of ``kind``."""
    frame = frame.rename({c: c.strip().lower() for c in frame.columns})
    allowed = set(COLUMNS[kind])
    unknown = [
        c
        for c in frame.columns
        if c not in allowed and c != LINE and not (kind == "members" and c.startswith(EXTRA_PREFIX))
    ]
    if unknown:
        raise InvalidInput(
            _("{name}: unknown columns {columns}"),
            field="file",
            name=filename,
            columns=", ".join(unknown),
        )
    missing = [c for c in REQUIRED[kind] if c not in frame.columns]
    if kind == "receipts" and "barcode" not in frame.columns and "sku" not in frame.columns:
        missing.append("barcode|sku")
    if kind == "members" and not {"card_no", "mobile"} & set(frame.columns):
        missing.append("card_no|mobile")
    if missing:
        raise InvalidInput(
            _("{name}: required columns missing: {columns}"),
            field="file",
            name=filename,
            columns=", ".join(missing),
        )
    if LINE not in frame.columns:
        frame = frame.with_row_index(LINE, offset=2).with_columns(pl.col(LINE).cast(pl.Int64))
    text = [c for c in frame.columns if c != LINE]
    # Empty cells are "no value"; surrounding spaces are never meaningful.
    frame = frame.with_columns(
        [pl.col(c).cast(pl.String).str.strip_chars().replace("", None).alias(c) for c in text]
    )
    for column in COLUMNS[kind]:
        if column not in frame.columns:
            frame = frame.with_columns(pl.lit(None, dtype=pl.String).alias(column))
    return frame
