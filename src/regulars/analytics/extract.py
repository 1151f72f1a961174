"""The one database read of analytics: a snapshot of receipts, lines, products and members.

``extract`` reads the operational database (SQLite or PostgreSQL) in batches with SQLAlchemy
Core and returns the tables of :mod:`regulars.analytics.frames`; ``extract_to_parquet`` writes
them as Parquet files that either engine reads (Spark reads the files itself, so a chain's
history never has to fit in the driver's memory twice).

Money and quantities are stored as scaled integers (see ``core.db``); they are read raw and
scaled here, which is several times faster than going through ``Decimal`` row by row.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import polars as pl
from sqlalchemy import (
    BigInteger,
    Connection,
    DateTime,
    String,
    Text,
    and_,
    cast,
    func,
    literal,
    select,
    type_coerce,
)

from regulars.analytics import frames
from regulars.catalog.models import Product
from regulars.core.timeutil import as_utc
from regulars.members.models import ConsentEvent, Member
from regulars.sales.models import Receipt, ReceiptLine

__all__ = ["Snapshot", "extract", "extract_to_parquet", "read_parquet"]

BATCH = 200_000


@dataclass(frozen=True)
class Snapshot:
    """The extracted tables and the time they were taken."""

    as_of: datetime
    tables: dict[str, pl.DataFrame]

    @property
    def lines(self) -> pl.DataFrame:
        """Receipt lines with member, store and time."""
        return self.tables["lines"]

    @property
    def products(self) -> pl.DataFrame:
        """The catalogue, flattened."""
        return self.tables["products"]

    @property
    def members(self) -> pl.DataFrame:
        """Members and their analytics and personalisation consents."""
        return self.tables["members"]

    @property
    def receipts(self) -> pl.DataFrame:
        """One row per receipt."""
        return self.tables["receipts"]


def _raw(column: Any) -> Any:
    """A scaled-integer column read as its stored integer."""
    return type_coerce(column, BigInteger)


def _stamp(connection: Connection, column: Any) -> Any:
    """A timestamp column read without the per-row conversion of ``UTCDateTime``.

    SQLite keeps UTC text (``2017-01-01 12:30:27.000000``), which Polars parses for the
    whole column at once; PostgreSQL's driver already returns zoned datetimes. Either way
    :func:`_utc` makes the column UTC.
    """
    if connection.dialect.name == "sqlite":
        return type_coerce(column, String)
    return type_coerce(column, DateTime(timezone=True))


def _read(connection: Connection, query: Any, schema: dict[str, pl.DataType]) -> pl.DataFrame:
    """Run ``query`` and collect its rows in batches into one frame with ``schema``."""
    # Options for this statement only: Connection.execution_options() would change the
    # connection itself, and on PostgreSQL every later write would then use a server cursor.
    result = connection.execute(
        query, execution_options={"stream_results": True, "yield_per": BATCH}
    )
    names = list(result.keys())
    parts = [
        pl.DataFrame(chunk, schema=names, orient="row", infer_schema_length=None)
        for chunk in result.partitions(BATCH)
    ]
    if not parts:
        return pl.DataFrame(schema=schema)
    return pl.concat(parts, how="vertical_relaxed")


def _utc(frame: pl.DataFrame, column: str) -> pl.DataFrame:
    """Make ``column`` a UTC timestamp whether the driver returned it naive or zoned."""
    dtype = frame.schema[column]
    if dtype == pl.String:
        return frame.with_columns(
            pl.col(column)
            .str.to_datetime(time_unit="us", strict=True)
            .dt.replace_time_zone("UTC")
            .alias(column)
        )
    if isinstance(dtype, pl.Datetime) and dtype.time_zone is not None:
        expr = pl.col(column).dt.convert_time_zone("UTC")
    else:
        expr = pl.col(column).cast(pl.Datetime("us")).dt.replace_time_zone("UTC")
    return frame.with_columns(expr.dt.cast_time_unit("us").alias(column))


def _lines(connection: Connection, until: datetime) -> pl.DataFrame:
    """Every receipt line before ``until``, with its receipt's member, store and time."""
    query = (
        select(
            ReceiptLine.receipt_id,
            Receipt.member_id,
            Receipt.store_id,
            _stamp(connection, Receipt.occurred_at).label("at"),
            ReceiptLine.product_id,
            _raw(ReceiptLine.quantity).label("qty_milli"),
            _raw(ReceiptLine.amount).label("amount_cents"),
            _raw(Product.cost_price).label("cost_cents"),
        )
        .join(Receipt, Receipt.id == ReceiptLine.receipt_id)
        .join(Product, Product.id == ReceiptLine.product_id)
        .where(Receipt.occurred_at < until)
        .order_by(ReceiptLine.id)
    )
    raw = _read(connection, query, {})
    if raw.is_empty():
        return pl.DataFrame(schema=dict(frames.LINES))
    raw = _utc(raw, "at")
    return frames.require(
        raw.with_columns(
            (pl.col("qty_milli") / 1000).alias("quantity"),
            (pl.col("amount_cents") / 100).alias("amount"),
            (pl.col("qty_milli") * pl.col("cost_cents") / 100_000).alias("cost"),
        ),
        frames.LINES,
        "lines",
    )


def _receipts(connection: Connection, until: datetime) -> pl.DataFrame:
    """Every receipt before ``until``."""
    query = (
        select(
            Receipt.id.label("receipt_id"),
            Receipt.member_id,
            Receipt.store_id,
            _stamp(connection, Receipt.occurred_at).label("at"),
            _raw(Receipt.total).label("total_cents"),
            (Receipt.kind == literal("return")).label("is_return"),
        )
        .where(Receipt.occurred_at < until)
        .order_by(Receipt.id)
    )
    raw = _read(connection, query, {})
    if raw.is_empty():
        return pl.DataFrame(schema=dict(frames.RECEIPTS))
    raw = _utc(raw, "at").with_columns((pl.col("total_cents") / 100).alias("total"))
    return frames.require(raw, frames.RECEIPTS, "receipts")


def _products(connection: Connection) -> pl.DataFrame:
    """The catalogue with tags joined into one comma-separated string."""
    # Tags are read as their JSON text and decoded by Polars for the whole column: the JSON
    # type's per-row decoding cost a second on the demo's 92,330 products.
    query = select(
        Product.id.label("product_id"),
        Product.department,
        Product.category,
        Product.subcategory,
        Product.brand,
        Product.manufacturer_id,
        cast(Product.tags, Text).label("tags_json"),
    ).order_by(Product.id)
    raw = _read(connection, query, {})
    if raw.is_empty():
        return pl.DataFrame(schema=dict(frames.PRODUCTS))
    tags = (
        pl.col("tags_json")
        .str.json_decode(pl.List(pl.String))
        .list.join(",")
        .fill_null("")
        .alias("tags")
    )
    return frames.require(raw.with_columns(tags).drop("tags_json"), frames.PRODUCTS, "products")


def _consenting(connection: Connection, purpose: str) -> set[int]:
    """Members whose newest event for ``purpose`` is a grant on at least one channel."""
    newest = (
        select(func.max(ConsentEvent.id).label("id"))
        .where(ConsentEvent.purpose == purpose)
        .group_by(ConsentEvent.member_id, ConsentEvent.channel)
        .subquery()
    )
    query = (
        select(ConsentEvent.member_id)
        .join(newest, newest.c.id == ConsentEvent.id)
        .where(ConsentEvent.granted.is_(True))
        .distinct()
    )
    return {int(m) for m in connection.scalars(query)}


def _members(connection: Connection) -> pl.DataFrame:
    """Active members with their analytics and personalised-offer consents."""
    query = (
        select(
            Member.id.label("member_id"),
            _stamp(connection, Member.created_at).label("registered_at"),
        )
        .where(and_(Member.status == "active", Member.merged_into_id.is_(None)))
        .order_by(Member.id)
    )
    raw = _read(connection, query, {})
    if raw.is_empty():
        return pl.DataFrame(schema=dict(frames.MEMBERS))
    analytics = _consenting(connection, "analytics")
    personalised = _consenting(connection, "personalised_offers")
    raw = _utc(raw, "registered_at").with_columns(
        pl.col("member_id").is_in(list(analytics)).alias("consent_analytics"),
        pl.col("member_id").is_in(list(personalised)).alias("consent_personalised"),
    )
    return frames.require(raw, frames.MEMBERS, "members")


def extract(connection: Connection, *, as_of: datetime) -> Snapshot:
    """Read the operational tables as they stood before ``as_of``."""
    until = as_utc(as_of)
    tables = {
        "lines": _lines(connection, until),
        "receipts": _receipts(connection, until),
        "products": _products(connection),
        "members": _members(connection),
    }
    return Snapshot(as_of=until, tables=tables)


def extract_to_parquet(connection: Connection, directory: Path, *, as_of: datetime) -> Snapshot:
    """Extract and write each table to ``directory/<table>.parquet``."""
    snapshot = extract(connection, as_of=as_of)
    directory.mkdir(parents=True, exist_ok=True)
    for name, table in snapshot.tables.items():
        table.write_parquet(directory / f"{name}.parquet")
    return snapshot


def read_parquet(directory: Path, *, as_of: datetime) -> Snapshot:
    """Read a snapshot written by ``extract_to_parquet`` (columns checked)."""
    tables = {
        name: frames.require(pl.read_parquet(directory / f"{name}.parquet"), columns, name)
        for name, columns in frames.TABLES.items()
    }
    return Snapshot(as_of=as_utc(as_of), tables=tables)
