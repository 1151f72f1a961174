"""Members' first purchase after a receipts import, from the imported rows themselves.

Every writer keeps ``member.first_purchase_at`` as "only ever moves earlier": the till
(``sales.service._note_first_purchase``) and a merge (``members.service``) both set it
only when the new receipt is earlier than what is stored. An import does the same, set
based and batch by batch (so each committed batch leaves its members right): for each
member, its earliest sale of the batch (the lowest receipt id among sales at the same
instant, i.e. the first in the file) and the department of that receipt's largest line
(the lowest line number among equal amounts) are found in Polars, then one ``UPDATE …
FROM`` the list moves the stored first purchase earlier where the imported one is
earlier — strictly: on a tie the receipt already stored has the lower id, and keeps it.
No receipt already in the database is read again.
"""

from __future__ import annotations

import polars as pl

from regulars.core.uow import UnitOfWork
from regulars.imports import bulk
from regulars.imports.receipt_rows import timestamp_text

__all__ = ["first_purchases_note"]


def _earliest(heads: pl.DataFrame, lines: pl.DataFrame) -> pl.DataFrame:
    """Per member: ``member_id``, ``at`` and ``product_id`` of the earliest receipt's top line."""
    first = (
        heads.filter(pl.col("member_id").is_not_null())
        .sort("at", "id")
        .group_by("member_id", maintain_order=True)
        .first()
        .select("member_id", "at", pl.col("id").alias("receipt_id"))
    )
    top = (
        lines.join(first.select("receipt_id"), on="receipt_id", how="semi")
        .sort("receipt_id", "amount", "line_no", descending=[False, True, False])
        .group_by("receipt_id", maintain_order=True)
        .first()
        .select("receipt_id", "product_id")
    )
    return first.join(top, on="receipt_id", how="left").drop("receipt_id")


def first_purchases_note(uow: UnitOfWork, heads: pl.DataFrame, lines: pl.DataFrame) -> int:
    """Move members' first purchase earlier where a sale of this batch is earlier.

    ``heads`` are the batch's new receipts (``id``, ``member_id``, ``at``), ``lines``
    their ``receipt_line`` rows (``receipt_id``, ``line_no``, ``product_id``,
    ``amount``). Returns the number of members looked at.
    """
    earliest = _earliest(heads, lines)
    if earliest.is_empty():
        return 0
    departments = bulk.fetch_in(
        uow,
        "SELECT id, department FROM product WHERE id {values}",
        earliest["product_id"].drop_nulls().unique().to_list(),
        {"product_id": pl.Int64, "department": pl.String},
    )
    rows = earliest.join(departments, on="product_id", how="left").select(
        "member_id",
        timestamp_text(pl.col("at"), postgres=bulk.is_pg(uow)).alias("at"),
        "department",
    )
    bulk.update_from(
        uow,
        "UPDATE member SET first_purchase_at = v.at, first_purchase_category = v.department"
        " FROM {rows} WHERE member.id = v.member_id"
        " AND (member.first_purchase_at IS NULL OR member.first_purchase_at > v.at)",
        rows,
        {"member_id": "bigint", "at": "timestamptz", "department": "text"},
    )
    return rows.height
