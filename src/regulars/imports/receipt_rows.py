"""Receipt and line rows of a bulk import, built column by column in Polars.

Everything a receipt row stores is derived from its checked lines without a Python loop
per receipt or per value:

* totals, line count and header values come from one ``group_by`` of the lines;
* ``content_hash`` is the SHA-256 (``hashlib``, one call per receipt over a string Polars
  has already joined) of the receipt's canonical content::

      <occurred_at UTC, µs>Z#<member key>#<cashier>#<payment method>#<line>;<line>;…
      line = <barcode>|<sku>|<quantity milli>|<unit price cents>|<discount cents>|<amount cents>

  Amounts are the scaled integers, so "1.0" and "1" are the same quantity. This is not
  the till API's hash (that one hashes the request's JSON): an imported receipt is only
  ever compared with the same file imported again, where the same content gives the same
  string and any change to a line, the time, member, cashier or payment gives another.
  Polars' own ``hash`` is not used: it is not stable across Polars versions, and a
  re-import after an upgrade must still match;
* ``payments`` is JSON text assembled from its parts; the payment methods in it are
  restricted by the checks to letters, digits and ``_``, so none needs escaping;
* ``response`` (the answer a till's replay gets back) is ``{}``: an imported receipt never
  had a till to answer, and its hash is not a till's, so a till's replay of it is
  compared as stored and answered from the row (``sales.content``). Writing the answer
  anyway was half of each receipt row's bytes and a tenth of the database's time;
* amounts stay the scaled integers ``Money`` and ``Quantity`` store, and timestamps are
  written as the text each database keeps (see ``timestamp_text``).
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

import polars as pl

from regulars.core.db import Money, Quantity
from regulars.imports.formats import LINE

KEY = ["store", "terminal", "receipt_no"]
RECEIPT_COLUMNS = (
    "id",
    "store_id",
    "terminal_id",
    "receipt_no",
    "kind",
    "occurred_at",
    "cashier",
    "member_id",
    "total",
    "discount_total",
    "line_count",
    "payments",
    "content_hash",
    "response",
    "source",
    "recorded_at",
)
LINE_COLUMNS = (
    "receipt_id",
    "line_no",
    "product_id",
    "quantity",
    "unit_price",
    "discount",
    "amount",
)
# The checks parse amounts to cents and quantities to thousandths: the scales stored.
assert Money.scale == 100 and Quantity.scale == 1000


def money_text(expr: pl.Expr) -> pl.Expr:
    """Cents as the API writes money: ``1100`` → ``"11.00"``, ``-5`` → ``"-0.05"``."""
    sign = pl.when(expr < 0).then(pl.lit("-")).otherwise(pl.lit(""))
    whole = (expr.abs() // 100).cast(pl.String)
    cents = (expr.abs() % 100).cast(pl.String).str.zfill(2)
    return pl.concat_str([sign, whole, pl.lit("."), cents])


def timestamp_text(expr: pl.Expr, *, postgres: bool) -> pl.Expr:
    """A UTC instant as ``UTCDateTime`` stores it: aware on PostgreSQL, naive UTC on SQLite."""
    if postgres:
        # Naive values are UTC (the checks parse to UTC, ``recorded_at`` is made naive).
        return expr.dt.strftime("%Y-%m-%d %H:%M:%S%.6f+00:00")
    return expr.dt.strftime("%Y-%m-%d %H:%M:%S%.6f")


def receipt_heads(lines: pl.DataFrame) -> pl.DataFrame:
    """One row per receipt: header, totals, line count, its lines and its content hash."""
    canonical_line = pl.concat_str(
        [
            pl.col("barcode_n").fill_null(""),
            pl.col("sku").fill_null(""),
            pl.col("qty"),
            pl.col("price"),
            pl.col("disc"),
            pl.col("amt"),
        ],
        separator="|",
    )
    heads = (
        lines.with_columns(canonical_line.alias("canon"))
        .group_by(KEY, maintain_order=True)
        .agg(
            pl.col("store_id").first(),
            pl.col("terminal_id").first(),
            pl.col("at").first(),
            pl.col("member_key").first(),
            pl.col("member_id").first(),
            pl.col("cashier").first(),
            pl.col("payment_method").first(),
            pl.col("amt").sum().alias("total"),
            pl.col("disc").sum().alias("discount_total"),
            pl.len().alias("line_count"),
            pl.col(LINE).alias("lines"),
            # Collected as a list and joined after: ``str.join`` inside ``agg`` is three
            # times slower than ``list.join`` over the finished lists.
            pl.col("canon"),
        )
        .with_columns(
            pl.concat_str(
                [
                    pl.col("at").dt.strftime("%Y-%m-%dT%H:%M:%S%.6fZ"),
                    pl.col("member_key").fill_null(""),
                    pl.col("cashier").fill_null(""),
                    pl.col("payment_method").fill_null(""),
                    pl.col("canon").list.join(";"),
                ],
                separator="#",
            ).alias("canon")
        )
    )
    sha256 = hashlib.sha256
    digests = [sha256(c.encode()).hexdigest() for c in heads["canon"].to_list()]
    return heads.with_columns(pl.Series("hash", digests, dtype=pl.String)).drop("canon")


def receipt_rows(
    heads: pl.DataFrame,
    *,
    source: str,
    recorded_at: datetime,
    postgres: bool,
) -> pl.DataFrame:
    """The ``receipt`` rows of new receipts (``heads`` with their ``id``), as stored."""
    recorded = recorded_at.astimezone(UTC).replace(tzinfo=None)
    total = money_text(pl.col("total"))
    payments = (
        pl.when(pl.col("payment_method").is_not_null())
        .then(
            pl.concat_str(
                [
                    pl.lit('[{"method": "'),
                    pl.col("payment_method"),
                    pl.lit('", "amount": "'),
                    total,
                    pl.lit('"}]'),
                ]
            )
        )
        .otherwise(pl.lit("[]"))
    )
    return heads.select(
        pl.col("id"),
        pl.col("store_id"),
        pl.col("terminal_id"),
        pl.col("receipt_no"),
        pl.lit("sale").alias("kind"),
        timestamp_text(pl.col("at"), postgres=postgres).alias("occurred_at"),
        pl.col("cashier"),
        pl.col("member_id"),
        pl.col("total"),
        pl.col("discount_total"),
        pl.col("line_count"),
        payments.alias("payments"),
        pl.col("hash").alias("content_hash"),
        pl.lit("{}").alias("response"),
        pl.lit(source).alias("source"),
        timestamp_text(pl.lit(recorded), postgres=postgres).alias("recorded_at"),
    )


def line_rows(lines: pl.DataFrame, heads: pl.DataFrame) -> pl.DataFrame:
    """The ``receipt_line`` rows of new receipts, numbered 1… in file order per receipt."""
    return (
        lines.join(heads.select(*KEY, "id"), on=KEY, how="inner")
        .sort(LINE)
        .select(
            pl.col("id").alias("receipt_id"),
            pl.col(LINE).rank("ordinal").over("id").cast(pl.Int64).alias("line_no"),
            pl.col("product_id"),
            pl.col("qty").alias("quantity"),
            pl.col("price").alias("unit_price"),
            pl.col("disc").alias("discount"),
            pl.col("amt").alias("amount"),
        )
    )
